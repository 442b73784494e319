package cli

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/pageshot/pageshot"
	"github.com/pageshot/pageshot/client"
	"github.com/pageshot/pageshot/internal/app"
)

// batchResult is how one line of a batch ended.
type batchResult struct {
	line   int
	url    string
	file   string
	code   pageshot.Code
	detail string
}

// capturer captures one URL with the batch's options.
type capturer func(ctx context.Context, q url.Values) (*pageshot.Capture, error)

func newBatch(stdout, stderr io.Writer) *cobra.Command {
	var (
		eng         engineFlags
		opt         optionFlags
		outDir      string
		concurrency int
		server, key string
	)
	cmd := &cobra.Command{
		Use:   "batch FILE",
		Short: "Capture every URL in FILE (one a line), locally or through a server",
		Long: "Captures every URL in FILE (one a line; blank lines and lines starting with # are skipped) with the\n" +
			"same options, writing NNNN-name.EXT files to -o. Without --server it runs its own browser; with\n" +
			"--server and --key it sends each capture to that pageshot server. A summary of the failures by\n" +
			"error code ends the run; the exit status is 1 when any capture failed.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var cfg app.Config
			if err := eng.apply(cmd, &cfg, stderr); err != nil {
				return err
			}
			lines, err := readURLs(args[0])
			if err != nil {
				return err
			}
			if err := os.MkdirAll(outDir, 0o755); err != nil {
				return fmt.Errorf("create output directory: %w", err)
			}
			base := opt.query(cmd.Flags())
			var capture capturer
			if server != "" {
				if key == "" {
					return fmt.Errorf("--server needs --key (or PAGESHOT_KEY)")
				}
				capture = remote(strings.TrimSuffix(server, "/"), key)
			} else {
				cfg.Concurrency = concurrency
				cfg.QueueSize = len(lines) + 1
				cfg.QueueTimeout = time.Hour
				pool, err := app.NewEngine(cfg)
				if err != nil {
					return err
				}
				if err := pool.Start(cmd.Context()); err != nil {
					return err
				}
				defer pool.Stop(context.Background())
				local := pool.Capturer(cfg.Limits)
				capture = func(ctx context.Context, q url.Values) (*pageshot.Capture, error) {
					res, err := local.Capture(ctx, &pageshot.CaptureRequest{Raw: pageshot.QueryOptions(q)})
					if err != nil {
						return nil, err
					}
					return res.Capture, nil
				}
			}
			results := runBatch(cmd.Context(), lines, base, capture, outDir, concurrency, stderr)
			return summarize(stdout, results, outDir)
		},
	}
	fs := cmd.Flags()
	eng.register(fs)
	opt.register(fs)
	fs.StringVarP(&outDir, "output", "o", ".", "directory for the captures")
	fs.IntVar(&concurrency, "concurrency", 2, "captures at once")
	fs.StringVar(&server, "server", "", "capture through this pageshot server, such as http://127.0.0.1:8080")
	fs.StringVar(&key, "key", "", "API key for --server")
	return cmd
}

// readURLs returns the URLs of path by line number.
func readURLs(path string) (map[int]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read batch file: %w", err)
	}
	defer f.Close()
	lines := map[int]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			lines[n] = l
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read batch file: %w", err)
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("%s has no URLs", path)
	}
	return lines, nil
}

func runBatch(ctx context.Context, lines map[int]string, base url.Values, capture capturer, outDir string, concurrency int, stderr io.Writer) []batchResult {
	order := slices.Sorted(func(yield func(int) bool) {
		for n := range lines {
			if !yield(n) {
				return
			}
		}
	})
	var bar *progressbar.ProgressBar
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		bar = progressbar.NewOptions(len(order), progressbar.OptionSetWriter(stderr), progressbar.OptionSetDescription("capturing"),
			progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionClearOnFinish(),
			progressbar.OptionThrottle(100*time.Millisecond))
	}
	results := make([]batchResult, len(order))
	work := make(chan int)
	var wg sync.WaitGroup
	for range max(1, concurrency) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				n := order[i]
				results[i] = captureLine(ctx, i, n, lines[n], base, capture, outDir)
				if bar != nil {
					_ = bar.Add(1)
				}
			}
		}()
	}
	for i := range order {
		if ctx.Err() != nil {
			results[i] = batchResult{line: order[i], url: lines[order[i]], code: pageshot.CodeServiceUnavailable, detail: "interrupted"}
			continue
		}
		work <- i
	}
	close(work)
	wg.Wait()
	if bar != nil {
		_ = bar.Finish()
	}
	return results
}

func captureLine(ctx context.Context, i, line int, target string, base url.Values, capture capturer, outDir string) batchResult {
	r := batchResult{line: line, url: target}
	q := url.Values{}
	for k, v := range base {
		q[k] = v
	}
	q.Set("url", target)
	c, err := capture(ctx, q)
	if err != nil {
		e := pageshot.AsError(err)
		r.code, r.detail = e.Code, e.Message
		return r
	}
	name := defaultOutput(&pageshot.Options{URL: target, Format: c.Format}, "")
	r.file = filepath.Join(outDir, fmt.Sprintf("%04d-%s", i+1, name))
	if err := os.WriteFile(r.file, c.Data, 0o644); err != nil {
		r.code, r.detail, r.file = pageshot.CodeInternal, err.Error(), ""
	}
	return r
}

// remote captures through a pageshot server with the Go client, which
// waits out rate, concurrency and queue limits as Retry-After says.
func remote(server, key string) capturer {
	c := client.New(server, key, client.WithUserAgent("pageshot-batch"))
	return func(ctx context.Context, q url.Values) (*pageshot.Capture, error) {
		o, err := client.ParseQuery(q)
		if err != nil {
			return nil, pageshot.InvalidRequest([]pageshot.FieldError{{Field: "", Message: err.Error()}})
		}
		shot, err := c.Screenshot(ctx, o)
		var e *client.Error
		switch {
		case errors.As(err, &e):
			return nil, &pageshot.Error{Code: e.Code, Message: e.Detail, Err: err}
		case err != nil:
			return nil, &pageshot.Error{Code: pageshot.CodeConnectionFailed, Message: "The server did not answer: " + err.Error(), Err: err}
		}
		return &pageshot.Capture{Data: shot.Data, Format: shot.Format, Width: shot.Width, Height: shot.Height, ReturnedStatusCode: shot.ReturnedStatusCode}, nil
	}
}

// summarize prints the outcome, the failures by code and line, and
// returns an error when any capture failed.
func summarize(stdout io.Writer, results []batchResult, outDir string) error {
	byCode := map[pageshot.Code]int{}
	var failed []batchResult
	for _, r := range results {
		if r.code != "" {
			byCode[r.code]++
			failed = append(failed, r)
		}
	}
	fmt.Fprintf(stdout, "%d captured, %d failed (files in %s)\n", len(results)-len(failed), len(failed), outDir)
	if len(failed) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nfailures by code:")
	codes := slices.SortedFunc(func(yield func(pageshot.Code) bool) {
		for c := range byCode {
			if !yield(c) {
				return
			}
		}
	}, func(a, b pageshot.Code) int {
		return cmp.Or(byCode[b]-byCode[a], strings.Compare(string(a), string(b)))
	})
	for _, c := range codes {
		fmt.Fprintf(tw, "  %s\t%d\n", c, byCode[c])
	}
	fmt.Fprintln(tw, "\nfailures:")
	for _, r := range failed {
		fmt.Fprintf(tw, "  line %d\t%s\t%s\t%s\n", r.line, r.url, r.code, r.detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return fmt.Errorf("%d of %d captures failed", len(failed), len(results))
}
