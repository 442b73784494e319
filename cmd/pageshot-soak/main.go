// Command pageshot-soak runs the real pageshot binary for a long time under
// mixed load and faults, and fails when it leaks or answers 500.
//
// It starts `pageshot serve` on a fresh data directory, serves its own
// pages on 127.0.0.1, and for -duration runs -clients clients capturing in
// a mix of formats and options (viewport, full page, JPEG, WebP, PDF,
// stored, cached), kills the browser (SIGKILL) every -kill-every, and every
// -burst-every sends a burst of -burst-clients clients for -burst-for (far
// more than the server's slots: 429 and 503 are expected then). Every
// -interval it prints the server's resident memory, Chromium's, the
// processes and zombies under the server, its open file descriptors and its
// goroutines. At the end, with the load stopped and settled, it compares
// those figures with the ones taken after the warm-up, and exits 1 when any
// grew beyond its allowance, when any answer was a 500, or when the server
// did not stop cleanly.
//
// Usage:
//
//	go build -o bin/pageshot ./cmd/pageshot
//	go run ./cmd/pageshot-soak -bin bin/pageshot -duration 30m
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

type config struct {
	bin          string
	duration     time.Duration
	interval     time.Duration
	clients      int
	concurrency  int
	killEvery    time.Duration
	burstEvery   time.Duration
	burstFor     time.Duration
	burstClients int
	verbose      bool
}

func main() {
	var c config
	fs := flag.NewFlagSet("pageshot-soak", flag.ContinueOnError)
	fs.StringVar(&c.bin, "bin", "bin/pageshot", "the pageshot binary")
	fs.DurationVar(&c.duration, "duration", 30*time.Minute, "how long to run the load")
	fs.DurationVar(&c.interval, "interval", time.Minute, "time between two printed samples")
	fs.IntVar(&c.clients, "clients", 4, "clients capturing all the time")
	fs.IntVar(&c.concurrency, "concurrency", 2, "the server's --concurrency")
	fs.DurationVar(&c.killEvery, "kill-every", 3*time.Minute, "time between two browser kills (0: none)")
	fs.DurationVar(&c.burstEvery, "burst-every", 4*time.Minute, "time between two overload bursts (0: none)")
	fs.DurationVar(&c.burstFor, "burst-for", 10*time.Second, "length of a burst")
	fs.IntVar(&c.burstClients, "burst-clients", 48, "clients of a burst")
	fs.BoolVar(&c.verbose, "v", false, "copy the server's output to stderr")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "soak: FAIL:", err)
		os.Exit(1)
	}
	fmt.Println("soak: PASS")
}
