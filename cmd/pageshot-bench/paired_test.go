package main

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestPairedChange(t *testing.T) {
	a := []float64{10, 11, 9, 10.5, 12, 8}
	same := make([]float64, len(a))
	noisy := make([]float64, len(a))
	for i, x := range a {
		same[i] = x * 0.95
		noisy[i] = x * 0.95 * (1 + 0.04*float64(i%2*2-1))
	}
	c, pairs, dropped, ok := pairedChange(a, same)
	if !ok || pairs != 6 || dropped != 0 || math.Abs(c.mid+0.05) > 1e-9 || math.Abs(c.lo-c.mid) > 1e-9 || math.Abs(c.hi-c.mid) > 1e-9 {
		t.Errorf("5%% less in every turn: %v, %d pairs, %d dropped, %v", c, pairs, dropped, ok)
	}
	if got := c.worse(0.05+1e-9, true); got != "no more than 5% worse" {
		t.Errorf("%v of a rate against 5%%: %s", c, got)
	}
	if got := c.worse(0.04, true); got != "more than 4% worse" {
		t.Errorf("%v of a rate against 4%%: %s", c, got)
	}
	if got := c.worse(0.04, false); got != "no more than 4% worse" {
		t.Errorf("%v of a latency against 4%%: %s", c, got)
	}
	for _, c := range []struct {
		c              change
		higherIsBetter bool
		want           string
	}{
		{change{0.04, 0.01, 0.07}, false, "possibly more than 5% worse"},
		{change{0.07, 0.06, 0.08}, false, "more than 5% worse"},
		{change{-0.04, -0.07, -0.01}, true, "possibly more than 5% worse"},
		{change{0.08, 0.06, 0.10}, true, "no more than 5% worse"},
		{change{-0.08, -0.10, -0.06}, false, "no more than 5% worse"},
	} {
		if got := c.c.worse(0.05, c.higherIsBetter); got != c.want {
			t.Errorf("%v, higher is better %v: %q, want %q", c.c, c.higherIsBetter, got, c.want)
		}
	}
	c, _, _, ok = pairedChange(a, noisy)
	if !ok || c.lo >= c.mid || c.hi <= c.mid || c.lo > -0.05 || c.hi < -0.05 || c.hi-c.lo > 0.2 {
		t.Errorf("5%% less give or take 4%%: %v", c)
	}
	// A turn that made nothing is left out, and counted; one pair is too
	// few.
	if c, pairs, dropped, ok := pairedChange([]float64{10, 0, 7}, []float64{9, 5, 0}); ok || pairs != 1 || dropped != 2 {
		t.Errorf("one usable pair of three: %v, %d pairs, %d dropped, %v", c, pairs, dropped, ok)
	}
}

func TestTQuantile(t *testing.T) {
	for df, want := range map[int]float64{1: 12.706, 10: 2.228, 29: 2.045, 30: 2.042, 45: 2.021, 99: 2.000, 1000: 1.980} {
		if got := tQuantile975(df); got != want {
			t.Errorf("df %d: %v, want %v", df, got, want)
		}
	}
}

func TestMedianChange(t *testing.T) {
	// 100 pairs of turns of four captures each, the second server's 10%
	// slower, capture for capture.
	var a, b []turn
	for i := range 100 {
		var ta, tb turn
		for j := range 4 {
			d := 100*time.Millisecond + time.Duration(i*4+j)*time.Millisecond/4
			ta.latencies = append(ta.latencies, d)
			tb.latencies = append(tb.latencies, d*11/10)
		}
		a, b = append(a, ta), append(b, tb)
	}
	c, ok := medianChange(a, b)
	if !ok || math.Abs(c.mid-0.10) > 0.001 || c.lo < 0.05 || c.lo > c.mid || c.hi < c.mid || c.hi > 0.15 {
		t.Errorf("10%% slower: %v", c)
	}
	if again, _ := medianChange(a, b); again != c {
		t.Errorf("not the same twice: %v and %v", c, again)
	}
	if _, ok := medianChange(a[:1], b[:1]); ok {
		t.Error("one pair of turns: compared")
	}
}

// TestPairedLine: a report of two servers' captures says how they
// differ, with intervals, and says nothing with too few turns to tell.
func TestPairedLine(t *testing.T) {
	turns := func(perSecond float64, cpu, latency time.Duration, n int) []turn {
		var ts []turn
		for i := range n {
			wobble := 1 + 0.01*float64(i%3)
			ts = append(ts, turn{perSecond * wobble, cpu, []time.Duration{latency, latency + time.Duration(i)*time.Millisecond}})
		}
		return ts
	}
	l := captureLevel{clients: 2, servers: []labeled{
		{label: "pageshot", turns: turns(3.0, 500*time.Millisecond, 550*time.Millisecond, 20)},
		{label: "compared", turns: turns(3.3, 450*time.Millisecond, 500*time.Millisecond, 20)},
	}}
	line := l.pairedLine()
	for _, want := range []string{"pageshot against compared", "captures/s -9.1%", "), more than 5% worse; p50 +", "), more than 5% worse; CPU per capture +11.1%", "20 pairs"} {
		if !strings.Contains(line, want) {
			t.Errorf("%q lacks %q", line, want)
		}
	}
	if line := (captureLevel{servers: l.servers[:1]}).pairedLine(); line != "" {
		t.Errorf("one server: %q", line)
	}
	l.servers[0].turns, l.servers[1].turns = l.servers[0].turns[:1], l.servers[1].turns[:1]
	if line := l.pairedLine(); line != "" {
		t.Errorf("one turn each: %q", line)
	}
}
