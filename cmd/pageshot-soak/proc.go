package main

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pageshot/pageshot/internal/proc"
)

// rss returns the resident memory of pid in bytes (0 when gone).
func rss(pid int) int64 {
	n, _ := proc.RSS(pid)
	return n
}

// pss returns the proportional set size of pid in bytes (its share of
// the memory it shares with others, so that a sum over Chromium's
// processes does not count shared pages many times); 0 when gone.
func pss(pid int) int64 {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "smaps_rollup"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Pss:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// fds returns the number of open file descriptors of pid.
func fds(pid int) int {
	entries, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "fd"))
	if err != nil {
		return -1
	}
	return len(entries)
}

// metric reads one unlabelled value from a Prometheus text page.
func metric(base, name string) (float64, error) {
	res, err := http.Get(base + "/metrics")
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("no metric %s", name)
}

// sample is the state of the server at one moment.
type sample struct {
	serverRSS, chromePSS int64
	procs, zombies       int
	fds, goroutines      int
}

func take(server int, base string) sample {
	s := sample{serverRSS: rss(server), fds: fds(server)}
	all, _ := proc.List()
	for _, p := range proc.Descendants(all, server) {
		s.procs++
		if p.Zombie() {
			s.zombies++
			continue
		}
		s.chromePSS += pss(p.PID)
	}
	if g, err := metric(base, "go_goroutines"); err == nil {
		s.goroutines = int(g)
	}
	return s
}

func (s sample) String() string {
	return fmt.Sprintf("server RSS %4d MiB  chromium PSS %5d MiB  processes %3d  zombies %d  fds %3d  goroutines %4d",
		s.serverRSS>>20, s.chromePSS>>20, s.procs, s.zombies, s.fds, s.goroutines)
}

// growth lists what grew from base to end beyond its allowance: memory by
// more than half and 64 MiB, descriptors by more than 32 (the SQLite pool
// may grow to its bound of 8 connections, three files each), goroutines by
// more than 32, processes by more than 8, and any zombie.
func growth(base, end sample) []string {
	var out []string
	if end.serverRSS > base.serverRSS+max(base.serverRSS/2, 64<<20) {
		out = append(out, fmt.Sprintf("server memory %d → %d MiB", base.serverRSS>>20, end.serverRSS>>20))
	}
	if end.fds > base.fds+32 {
		out = append(out, fmt.Sprintf("file descriptors %d → %d", base.fds, end.fds))
	}
	if end.goroutines > base.goroutines+32 {
		out = append(out, fmt.Sprintf("goroutines %d → %d", base.goroutines, end.goroutines))
	}
	if end.procs > base.procs+8 {
		out = append(out, fmt.Sprintf("processes %d → %d", base.procs, end.procs))
	}
	if end.zombies > 0 {
		out = append(out, fmt.Sprintf("%d zombie processes", end.zombies))
	}
	return out
}
