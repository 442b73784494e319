// Package redistest gives tests a Redis to use: the shared server named by
// PAGESHOT_TEST_REDIS_URL with a key prefix of their own, so that packages
// and tests can run in parallel on one server; or a redis-server process
// of their own that they may stop and start again.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// EnvVar names the variable that points the tests at a Redis server.
const EnvVar = "PAGESHOT_TEST_REDIS_URL"

// URL returns the URL of PAGESHOT_TEST_REDIS_URL, or skips t without it.
func URL(t testing.TB) string {
	t.Helper()
	raw := os.Getenv(EnvVar)
	if raw == "" {
		t.Skip("Redis tests skipped: set " + EnvVar + " to a Redis server, e.g. " +
			EnvVar + "='redis://127.0.0.1:6379/0' go test ./internal/redis/")
	}
	if _, err := goredis.ParseURL(raw); err != nil {
		t.Fatalf("%s: %v", EnvVar, err)
	}
	return raw
}

// Prefix returns a key prefix of its own for t ("test:<random>:") and
// deletes every key under it on the server at rawURL when t ends.
func Prefix(t testing.TB, rawURL string) string {
	t.Helper()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	prefix := "test:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		rdb := Client(t, rawURL)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// redis_rate puts "rate:" before the limiter's prefix.
		for _, pattern := range []string{prefix + "*", "rate:" + prefix + "*"} {
			iter := rdb.Scan(ctx, 0, pattern, 100).Iterator()
			for iter.Next(ctx) {
				rdb.Del(ctx, iter.Val())
			}
			if err := iter.Err(); err != nil {
				t.Logf("redistest: clean %s: %v", pattern, err)
			}
		}
	})
	return prefix
}

// Client returns a client of the server at rawURL, closed when t ends.
func Client(t testing.TB, rawURL string) *goredis.Client {
	t.Helper()
	opts, err := goredis.ParseURL(rawURL)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	rdb := goredis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// Server is a redis-server process of a test's own, without persistence:
// a restart starts empty.
type Server struct {
	t    testing.TB
	port int
	dir  string // working directory; nothing is saved there
	cmd  *exec.Cmd
	done chan struct{}
}

// StartServer starts redis-server on a free port of 127.0.0.1 and stops
// it when t ends. Without redis-server on PATH it skips t, saying how to
// install it.
func StartServer(t testing.TB) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not found: install it (Debian: apt-get install redis-server, or ./scripts/setup.sh)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &Server{t: t, port: port, dir: t.TempDir()}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// URL returns the server's redis:// URL.
func (s *Server) URL() string { return "redis://127.0.0.1:" + strconv.Itoa(s.port) + "/0" }

// Start starts the server on its port again after Stop and returns once it
// answers PING.
func (s *Server) Start() {
	s.t.Helper()
	if s.cmd != nil {
		s.t.Fatal("redistest: server already running")
	}
	cmd := exec.Command("redis-server",
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
	cmd.Dir = s.dir
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("redistest: start redis-server: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.cmd, s.done = cmd, done

	opts, _ := goredis.ParseURL(s.URL())
	opts.MaxRetries = -1
	rdb := goredis.NewClient(opts)
	defer rdb.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		select {
		case <-done:
			s.cmd = nil
			s.t.Fatalf("redistest: redis-server exited: %s", out)
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redistest: redis-server on port %d does not answer: %v", s.port, err)
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not a synchronisation
	}
}

// Stop kills the server and waits until it has exited and its port is
// closed. Safe to call when stopped.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
	// The kernel closes the listener with the process; check it anyway so
	// that a test's "Redis is down" is true when Stop returns.
	if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(s.port), time.Second); err == nil {
		c.Close()
		s.t.Errorf("redistest: port %d still open after redis-server exited", s.port)
	}
}
