package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	captures *prometheus.HistogramVec
	handler  http.Handler
}

func newMetrics(gauges func() Gauges) *metrics {
	if gauges == nil {
		gauges = func() Gauges { return Gauges{} }
	}
	m := &metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pageshot_http_requests_total",
		Help: "HTTP requests by route, status and error code (empty on success).",
	}, []string{"route", "status", "code"})
	m.captures = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "pageshot_capture_duration_seconds",
		Help:    "Time from a capture request to its result, by format and outcome code (ok on success).",
		Buckets: []float64{.1, .2, .3, .5, .75, 1, 1.5, 2, 3, 5, 10, 20, 30, 60},
	}, []string{"format", "code"})
	m.reg.MustRegister(m.requests, m.captures,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pageshot_queue_depth", Help: "Captures waiting for a browser slot."},
			func() float64 { return float64(gauges().Queued) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pageshot_pool_in_use", Help: "Browser slots rendering a capture now."},
			func() float64 { return float64(gauges().InUse) }),
		restartsCollector{gauges},
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "pageshot_renderer_memory_kills_total", Help: "Renderers killed for passing --max-renderer-memory (their captures answered page_too_large)."},
			func() float64 { return float64(gauges().MemoryKills) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pageshot_data_disk_free_bytes", Help: "Bytes left on the data directory's disk (-1: unknown)."},
			func() float64 { return float64(gauges().DataDiskFree) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pageshot_data_disk_low", Help: "1 while the data directory's disk has less than --min-free-disk left: not ready, stored captures refused."},
			func() float64 {
				if gauges().DataDiskLow {
					return 1
				}
				return 0
			}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "pageshot_browser_crashes_total", Help: "Browser processes that died unexpectedly."},
			func() float64 { return float64(gauges().Crashes) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "pageshot_job_items_succeeded_total", Help: "Job items that ended with a capture."},
			func() float64 { return float64(gauges().ItemsSucceeded) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "pageshot_job_items_failed_total", Help: "Job items that ended with an error."},
			func() float64 { return float64(gauges().ItemsFailed) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "pageshot_webhooks_delivered_total", Help: "Webhook events a receiver accepted."},
			func() float64 { return float64(gauges().WebhooksDelivered) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "pageshot_webhook_failures_total", Help: "Webhook delivery attempts a receiver did not accept (retried)."},
			func() float64 { return float64(gauges().WebhookFailures) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return m
}

func (m *metrics) serve(w http.ResponseWriter, r *http.Request) { m.handler.ServeHTTP(w, r) }

// statusRecorder remembers the status and the error code of a response.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// instrument counts the requests of a route.
func (m *metrics) instrument(route string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		code := w.Header().Get("Content-Type")
		if code == "application/problem+json" {
			code = w.Header().Get(errorCodeHeader)
		} else {
			code = ""
		}
		m.requests.WithLabelValues(route, strconv.Itoa(status), code).Inc()
	})
}

// errorCodeHeader carries the error code from writeError to the metrics
// middleware; it is also useful to clients reading headers only.
const errorCodeHeader = "X-Error-Code"

func (m *metrics) observeCapture(format, code string, d time.Duration) {
	m.captures.WithLabelValues(format, code).Observe(d.Seconds())
}

// restartsCollector exports the browser restarts by reason.
type restartsCollector struct{ gauges func() Gauges }

var restartsDesc = prometheus.NewDesc("pageshot_browser_restarts_total",
	"Browser restarts by reason: crash (the process died), hang (the watchdog killed a browser that stopped answering), recycle (after --recycle-after captures).",
	[]string{"reason"}, nil)

func (c restartsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- restartsDesc }

func (c restartsCollector) Collect(ch chan<- prometheus.Metric) {
	g := c.gauges()
	by := g.RestartsBy
	if by == nil {
		by = map[string]int64{"crash": g.Crashes, "recycle": max(g.Restarts-g.Crashes, 0)}
	}
	for reason, n := range by {
		ch <- prometheus.MustNewConstMetric(restartsDesc, prometheus.CounterValue, float64(n), reason)
	}
}
