package main

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestPageshotEngine drives the real pageshot binary, built for the test,
// against the tool's own page.
func TestPageshotEngine(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "pageshot")
	if out, err := exec.Command("go", "build", "-o", bin, "../pageshot").CombinedOutput(); err != nil {
		t.Fatalf("build pageshot: %v\n%s", err, out)
	}
	page, err := startPageServer()
	if err != nil {
		t.Fatal(err)
	}
	defer page.Close()
	ctx := t.Context()
	ps, err := startPageshot(ctx, bin, "", "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ps.version, "pageshot ") {
		t.Errorf("version %q, want the lines of pageshot version", ps.version)
	}
	r := runLoad(ctx, ps, page.URL, 2, 4, time.Minute)
	if len(r.latencies) != 4 || len(r.failures) != 0 {
		t.Errorf("got %d successes and failures %v, want 4 and none", len(r.latencies), r.failures)
	}
	if err := ps.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := ps.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestListenAddress(t *testing.T) {
	tests := []struct {
		line, want string
	}{
		{"listening on http://127.0.0.1:8080", "127.0.0.1:8080"},
		{`{"level":"INFO","msg":"listening on http://127.0.0.1:40123","addr":"x"}`, "127.0.0.1:40123"},
		{`time=2026-01-01 level=INFO msg="listening on http://127.0.0.1:5000"`, "127.0.0.1:5000"},
		{`{"msg":"listening on http://127.0.0.1:5000/"}`, "127.0.0.1:5000"},
		{"listening on http://[::1]:9000 (ready)", "[::1]:9000"},
		{`"{\"msg\":\"listening on http://127.0.0.1:7000\"}"`, "127.0.0.1:7000"},
		{"listening on http://127.0.0.1:0", ""},
		{"listening on http://127.0.0.1", ""},
		{"starting server on 127.0.0.1:8080", ""},
	}
	for _, tt := range tests {
		got, ok := listenAddress(tt.line)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("listenAddress(%q) = %q, %v; want %q", tt.line, got, ok, tt.want)
		}
	}
}

func TestOutputLogSplitsLines(t *testing.T) {
	var lines []string
	o := &outputLog{onLine: func(l string) { lines = append(lines, l) }}
	o.Write([]byte("one\ntw"))
	o.Write([]byte("o\nthree"))
	if strings.Join(lines, "|") != "one|two" {
		t.Errorf("lines = %q", lines)
	}
	if tail := o.tail(); !strings.Contains(tail, "two") || !strings.Contains(tail, "three") {
		t.Errorf("tail = %q, want the complete and the unfinished line", tail)
	}
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 30; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	for p, want := range map[float64]time.Duration{50: 15 * time.Millisecond, 90: 27 * time.Millisecond, 100: 30 * time.Millisecond} {
		if got := percentile(ds, p); got != want {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("p50 of nothing = %v", got)
	}
}

func TestCheckPNG(t *testing.T) {
	encode := func(w, h int) []byte {
		var buf bytes.Buffer
		png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h)))
		return buf.Bytes()
	}
	if err := checkPNG(encode(1280, 800), 1280, 800); err != nil {
		t.Errorf("1280×800: %v", err)
	}
	if err := checkPNG(encode(1280, 801), 1280, 800); err == nil {
		t.Error("1280×801 passed")
	}
	if err := checkPNG([]byte("<html>"), 1280, 800); err == nil {
		t.Error("HTML passed")
	}
}

func TestLauncherTarget(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "lib", "chromium", "chromium")
	os.MkdirAll(filepath.Dir(bin), 0o755)
	os.WriteFile(bin, []byte("\x7fELF"), 0o755)
	script := filepath.Join(dir, "chromium")
	os.WriteFile(script, []byte("#!/bin/sh\nAPPNAME=chromium\nLIBDIR="+dir+"/lib/$APPNAME\nexec $LIBDIR/$APPNAME \"$@\"\n"), 0o755)

	if got, ok := launcherTarget(script); !ok || got != bin {
		t.Errorf("launcherTarget(script) = %q, %v; want %q", got, ok, bin)
	}
	if _, ok := launcherTarget(bin); ok {
		t.Error("a binary was taken for a launcher")
	}
}

func TestArticleHTML(t *testing.T) {
	html, svgs := articleHTML()
	if len(html) < 95_000 || len(html) > 110_000 {
		t.Errorf("page is %d bytes, want about 100 KB", len(html))
	}
	for _, want := range []string{"<table>", "/static/hero.png", "/static/site.css", "<svg", "</html>"} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if n := strings.Count(html, "<svg"); n != svgs {
		t.Errorf("page has %d SVGs, articleHTML says %d", n, svgs)
	}
}

func TestParseFlags(t *testing.T) {
	t.Setenv("PAGESHOT_BENCH_KEY", "from-env")
	cfg, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.bin != "./bin/pageshot" || cfg.seqN != 30 || cfg.concN != 40 || cfg.key != "from-env" || !slices.Equal(cfg.levels, []int{1, 2, 4}) {
		t.Errorf("defaults: %+v", cfg)
	}
	if cfg, _ := parseFlags([]string{"-key", "k", "-levels", "1,8"}); cfg.key != "k" || !slices.Equal(cfg.levels, []int{1, 8}) {
		t.Errorf("-key k -levels 1,8: %+v", cfg)
	}
	for _, args := range [][]string{{"-only", "both"}, {"-levels", "1,0"}, {"-n", "0"}, {"stray"}} {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
}
