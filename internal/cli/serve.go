package cli

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/pageshot/pageshot"
	"github.com/pageshot/pageshot/internal/app"
)

// engineFlags are the settings of the render engine that serve and shot
// share.
type engineFlags struct {
	config         string
	chromePath     string
	chromeUser     string
	egressAllow    []string
	pngCompression bool
	logLevel       string
	adLists        []string
	trackerLists   []string
}

func (e *engineFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&e.config, "config", "", "YAML config file (plans, egress rules)")
	fs.StringVar(&e.chromeUser, "chrome-user", "pageshot-chrome", "the account Chromium runs as when pageshot runs as root, so that its sandbox can run")
	fs.StringVar(&e.chromePath, "chrome-path", "", "Chromium executable (default: chromium, chromium-browser or google-chrome on PATH)")
	fs.StringSliceVar(&e.egressAllow, "egress-allow", nil, "CIDRs and host names let through the private-address block, e.g. 127.0.0.1/32")
	fs.BoolVar(&e.pngCompression, "png-compression", false, "PNG at Chromium's own compression (slower encoding, about 6% fewer bytes than the default)")
	fs.StringVar(&e.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringSliceVar(&e.adLists, "ad-lists", nil, "filter lists in the EasyList format (files or http(s) URLs, such as EasyList) added to the built-in ad list of block_ads; URL lists are fetched again daily, their last good copy kept in the data dir")
	fs.StringSliceVar(&e.trackerLists, "tracker-lists", nil, "filter lists in the EasyList format (files or http(s) URLs, such as EasyPrivacy) added to the built-in tracker list of block_trackers")
}

// fileConfig is the YAML config file.
type fileConfig struct {
	Plans  map[string]planYAML `yaml:"plans"`
	Egress struct {
		Allow []string `yaml:"allow"`
	} `yaml:"egress"`
}

// planYAML is a plan in the config file; what it leaves out is the
// default plan's.
type planYAML struct {
	MonthlyQuota   *int64  `yaml:"monthly_quota"`
	RatePerMinute  *int    `yaml:"rate_per_minute"`
	MaxConcurrency *int    `yaml:"max_concurrency"`
	MaxTimeout     *string `yaml:"max_timeout"`
	// MaxFullPageHeight bounds full_page_max_height (CSS pixels).
	MaxFullPageHeight *int `yaml:"max_full_page_height"`
}

// plans returns the plans of the file, with the default plan always
// present.
func (fc fileConfig) plans() (map[string]pageshot.Plan, error) {
	out := map[string]pageshot.Plan{pageshot.DefaultPlanName: pageshot.DefaultPlan()}
	for name, y := range fc.Plans {
		p := pageshot.DefaultPlan()
		p.Name = name
		if y.MonthlyQuota != nil {
			p.MonthlyQuota = *y.MonthlyQuota
		}
		if y.RatePerMinute != nil {
			p.RatePerMinute = *y.RatePerMinute
		}
		if y.MaxConcurrency != nil {
			p.MaxConcurrency = *y.MaxConcurrency
		}
		if y.MaxTimeout != nil {
			d, err := time.ParseDuration(*y.MaxTimeout)
			if err != nil {
				if n, nerr := strconv.Atoi(*y.MaxTimeout); nerr == nil {
					d, err = time.Duration(n)*time.Second, nil
				}
			}
			if err != nil || d < time.Second {
				return nil, fmt.Errorf("plan %s: max_timeout %q: want a duration such as 60s", name, *y.MaxTimeout)
			}
			p.MaxTimeout = d
		}
		if y.MaxFullPageHeight != nil {
			p.MaxFullPageHeight = *y.MaxFullPageHeight
		}
		if p.MonthlyQuota < 0 || p.RatePerMinute < 0 || p.MaxConcurrency < 0 || p.MaxFullPageHeight < 0 {
			return nil, fmt.Errorf("plan %s: limits cannot be negative (0 means unlimited)", name)
		}
		out[name] = p
	}
	return out, nil
}

func loadFile(path string) (fileConfig, error) {
	var fc fileConfig
	if path == "" {
		return fc, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fc, fmt.Errorf("read config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&fc); err != nil && err != io.EOF {
		return fc, fmt.Errorf("parse config %s: %w", path, err)
	}
	return fc, nil
}

// apply completes cfg from the engine flags and the config file.
func (e *engineFlags) apply(cmd *cobra.Command, cfg *app.Config, stderr io.Writer) error {
	if err := bindEnv(cmd.Flags()); err != nil {
		return err
	}
	fc, err := loadFile(e.config)
	if err != nil {
		return err
	}
	log, err := newLogger(stderr, e.logLevel)
	if err != nil {
		return err
	}
	cfg.Logger = log
	cfg.ChromePath = e.chromePath
	cfg.ChromeUser = e.chromeUser
	cfg.PNGCompression = e.pngCompression
	cfg.EgressAllow = e.egressAllow
	cfg.AdLists, cfg.TrackerLists = e.adLists, e.trackerLists
	if !cmd.Flags().Changed("egress-allow") && len(e.egressAllow) == 0 {
		cfg.EgressAllow = fc.Egress.Allow
	}
	return nil
}

func newServe(stdout, stderr io.Writer) *cobra.Command {
	cmd, cfg := newNode(stdout, stderr, "serve", "Run the API server")
	fs := cmd.Flags()
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:8080", "listen address")
	fs.Var(notBool{&cfg.NoJobs}, "jobs", "run job items and webhooks here too (false: only queue them, for worker nodes) (default true)")
	fs.Lookup("jobs").NoOptDefVal = "true"
	fs.IntVar(&cfg.IPRatePerMinute, "ip-rate-per-minute", 60, "requests a minute per client address without a valid API key")
	return cmd
}

func newWorker(stdout, stderr io.Writer) *cobra.Command {
	cmd, cfg := newNode(stdout, stderr, "worker", "Run job items and webhooks: a node without the public API")
	cfg.Worker = true
	cmd.Flags().StringVar(&cfg.Addr, "admin-addr", "127.0.0.1:9090", "listen address of /healthz, /readyz and /metrics")
	return cmd
}

// newNode returns the command of a node, serve or worker, with the flags
// they share; the caller adds its own.
func newNode(stdout, stderr io.Writer, use, short string) (*cobra.Command, *app.Config) {
	var (
		eng engineFlags
		cfg app.Config
	)
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := eng.apply(cmd, &cfg, stderr); err != nil {
				return err
			}
			fc, err := loadFile(eng.config)
			if err != nil {
				return err
			}
			if cfg.Plans, err = fc.plans(); err != nil {
				return err
			}
			cfg.Announce = stdout
			st := &cfg.Storage.S3
			st.AccessKey = cmp.Or(st.AccessKey, os.Getenv("AWS_ACCESS_KEY_ID"))
			st.SecretKey = cmp.Or(st.SecretKey, os.Getenv("AWS_SECRET_ACCESS_KEY"))
			st.Region = cmp.Or(st.Region, os.Getenv("AWS_REGION"))
			return app.Run(cmd.Context(), cfg)
		},
	}
	fs := cmd.Flags()
	eng.register(fs)
	fs.StringVar(&cfg.DataDir, "data-dir", "pageshot-data", "directory for the node's state")
	fs.StringVar(&cfg.RedisURL, "redis-url", "", "Redis for the rate and concurrency limits shared by every node, redis://… (default: in this process)")
	fs.StringVar(&cfg.RedisPrefix, "redis-prefix", "pageshot:", "start of every Redis key of the limits: the same on every node of a deployment")
	fs.StringVar(&cfg.DatabaseURL, "database-url", "", "PostgreSQL for the store and the job queue, postgres://… (default: SQLite under --data-dir)")
	fs.DurationVar(&cfg.StartupTimeout, "startup-timeout", 30*time.Second, "longest wait for each start-up step on another system (storage, database)")
	fs.IntVar(&cfg.Concurrency, "concurrency", 0, "captures rendering at once (default: CPU count, at least 2)")
	fs.IntVar(&cfg.QueueSize, "queue-size", 0, "captures that may wait for a slot (default: 16 per slot)")
	fs.DurationVar(&cfg.QueueTimeout, "queue-timeout", 30*time.Second, "longest wait for a browser slot before service_unavailable")
	fs.IntVar(&cfg.RecycleAfter, "recycle-after", 1000, "restart the browser after this many captures")
	fs.DurationVar(&cfg.BrowserWatchdog, "browser-watchdog", 5*time.Second, "restart a browser that leaves a cheap question unanswered this long")
	fs.Int64Var(&cfg.MinFreeDisk, "min-free-disk", 64<<20, "bytes kept free on the data dir's disk: below it the node is not ready and stored captures are refused")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 60*time.Second, "longest drain of in-flight requests on SIGINT/SIGTERM")
	fs.BoolVar(&cfg.DirectEgress, "direct-egress", false, "let the browser reach the network without the egress proxy (for measuring; unsafe)")
	fs.Int64Var(&cfg.MaxPageBytes, "max-page-bytes", 64<<20, "bytes a captured page may download before page_too_large")
	fs.Int64Var(&cfg.MaxPixels, "max-pixels", 64_000_000, "pixels an image may have before page_too_large")
	fs.Int64Var(&cfg.RendererHeapLimit, "max-renderer-heap", 512<<20, "bytes of JavaScript heap a page may fill before page_too_large")
	fs.Int64Var(&cfg.MaxRendererMemory, "max-renderer-memory", 1<<30, "bytes of resident memory a page's renderer may take before page_too_large")
	fs.IntVar(&cfg.Limits.MaxHTMLBytes, "max-html-bytes", 5<<20, "largest html option")
	fs.DurationVar(&cfg.Limits.MaxTimeout, "max-timeout", 0, "largest timeout any request may ask for, whatever its plan allows (default: each plan's max_timeout)")
	fs.IntVar(&cfg.Limits.MaxFullPageHeight, "max-full-page-height", 20000, "largest full_page_max_height, in CSS pixels (full-page captures are cut there and flagged)")
	fs.IntVar(&cfg.Jobs.Workers, "job-workers", 0, "job items captured at once (default: --concurrency)")
	fs.DurationVar(&cfg.Jobs.JobTimeout, "job-timeout", 3*time.Minute, "longest run of one job item")
	fs.DurationVar(&cfg.Jobs.StaleAfter, "job-stale-after", 30*time.Second, "run again, on any node, a running job item whose node has not reported on it for this long (it died); nodes report every sixth of it")
	fs.DurationVar(&cfg.Jobs.RescueAfter, "job-rescue-after", 0, "run again a job item that seems to run this long, its process having died (default: --job-timeout plus a minute)")
	fs.BoolVar(&cfg.ChargeCacheHits, "charge-cache-hits", false, "count captures served from the cache against the quota")
	fs.DurationVar(&cfg.JobRetention, "job-retention", 30*24*time.Hour, "how long ended jobs, their items and artifacts are kept")
	fs.StringVar(&cfg.PublicURL, "public-url", "", "the server's address as clients reach it, for links in answers (default: from each request's Host)")
	fs.StringVar(&cfg.Storage.Dir, "storage-dir", "", "directory of stored captures when no --storage-url is set (default: DATA_DIR/objects)")
	fs.StringVar(&cfg.Storage.S3.URL, "storage-url", "", "S3-compatible storage, s3://bucket/prefix (default: files under the data dir)")
	fs.StringVar(&cfg.Storage.S3.Endpoint, "storage-endpoint", "", "S3 endpoint, host[:port] or http(s)://host[:port] (default: AWS)")
	fs.StringVar(&cfg.Storage.S3.Region, "storage-region", "", "S3 region (default: AWS_REGION, else us-east-1)")
	fs.StringVar(&cfg.Storage.S3.AccessKey, "storage-access-key", "", "S3 access key (default: AWS_ACCESS_KEY_ID)")
	fs.StringVar(&cfg.Storage.S3.SecretKey, "storage-secret-key", "", "S3 secret key (default: AWS_SECRET_ACCESS_KEY)")
	fs.BoolVar(&cfg.Storage.S3.PathStyle, "storage-path-style", false, "path-style S3 addressing (MinIO and most self-hosted servers)")
	fs.StringVar(&cfg.Storage.S3.PublicURL, "storage-public-url", "", "public base URL of the bucket (a CDN); default: presigned URLs")
	fs.DurationVar(&cfg.HTTP.ReadTimeout, "read-timeout", 30*time.Second, "longest time a client may take to send a whole request, body included")
	fs.DurationVar(&cfg.HTTP.IdleTimeout, "idle-timeout", 2*time.Minute, "how long a kept-alive connection may wait for its next request")
	fs.IntVar(&cfg.HTTP.MaxConnsPerAddr, "max-conns-per-ip", 64, "open connections one client address may hold (-1: no cap)")
	return cmd, &cfg
}

// notBool is a boolean flag that sets the negation of its value, so that
// --jobs (default true) can fill Config.NoJobs (default false).
type notBool struct{ p *bool }

func (b notBool) String() string {
	if b.p == nil {
		return "true"
	}
	return strconv.FormatBool(!*b.p)
}

func (b notBool) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	*b.p = !v
	return nil
}

func (notBool) Type() string { return "bool" }
