package main

import (
	"os"
	"strings"
	"testing"
)

func TestGrowth(t *testing.T) {
	base := sample{serverRSS: 40 << 20, procs: 11, fds: 21, goroutines: 80}
	for _, tc := range []struct {
		name string
		end  sample
		want string
	}{
		{"flat", sample{serverRSS: 60 << 20, procs: 12, fds: 40, goroutines: 90}, ""},
		{"memory", sample{serverRSS: 200 << 20, procs: 11, fds: 21, goroutines: 80}, "server memory"},
		{"descriptors", sample{serverRSS: 40 << 20, procs: 11, fds: 60, goroutines: 80}, "file descriptors"},
		{"goroutines", sample{serverRSS: 40 << 20, procs: 11, fds: 21, goroutines: 200}, "goroutines"},
		{"processes", sample{serverRSS: 40 << 20, procs: 30, fds: 21, goroutines: 80}, "processes"},
		{"zombies", sample{serverRSS: 40 << 20, procs: 11, zombies: 1, fds: 21, goroutines: 80}, "zombie"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(growth(base, tc.end), "; ")
			if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Errorf("growth = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestTake reads this very process: it has memory and descriptors.
func TestTake(t *testing.T) {
	if rss(os.Getpid()) <= 0 || fds(os.Getpid()) <= 0 || pss(os.Getpid()) <= 0 {
		t.Errorf("rss %d, fds %d, pss %d of this process", rss(os.Getpid()), fds(os.Getpid()), pss(os.Getpid()))
	}
}
