// Package cli implements the pageshot command line: it parses flags,
// PAGESHOT_* environment variables and the YAML config file into an
// app.Config and runs the command.
package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pageshot/pageshot"
	"github.com/pageshot/pageshot/internal/app"
	"github.com/pageshot/pageshot/internal/reaper"
)

// Build information, set by the linker (-X).
var (
	Version = "dev"
	Commit  = "unknown"
)

// ExitDrainExpired is the exit status of serve when its shutdown timeout
// ran out before the requests in flight ended (they were answered
// service_unavailable). A complete drain exits 0; other failures exit 1.
const ExitDrainExpired = 3

// Run runs the command line args (args[0] is the program name) and returns
// the process exit code.
//
// As PID 1 (a container without an init) it also reaps orphaned processes,
// which Chromium leaves each time its browser process ends.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if reaper.Needed() {
		r := reaper.Start(reaper.Config{})
		defer r.Stop()
	}
	root := newRoot(stdout, stderr)
	root.SetArgs(args[1:])
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		var pe *pageshot.Error
		if errors.As(err, &pe) {
			fmt.Fprintf(stderr, "pageshot: %s: %s\n", pe.Code, pe.Message)
			for _, f := range pe.Fields {
				fmt.Fprintf(stderr, "  %s: %s\n", cmp.Or(f.Field, "body"), f.Message)
			}
			return 1
		}
		fmt.Fprintf(stderr, "pageshot: %v\n", err)
		if errors.Is(err, app.ErrDrainExpired) {
			return ExitDrainExpired
		}
		return 1
	}
	return 0
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "pageshot",
		Short:         "A self-hosted website screenshot API",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServe(stdout, stderr), newWorker(stdout, stderr), newShot(stderr), newVersion(stdout),
		newBatch(stdout, stderr), newKeys(stdout), newUsage(stdout), newMigrate(stdout))
	return root
}

// bindEnv fills every flag not given on the command line from
// PAGESHOT_<FLAG_IN_UPPER_SNAKE>, so flags win over the environment.
func bindEnv(fs *pflag.FlagSet) error {
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed {
			return
		}
		name := "PAGESHOT_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
			}
		}
	})
	return errors.Join(errs...)
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}
