package main

import (
	"math"
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
	c, ok := pairedChange(a, same)
	if !ok || math.Abs(c.mid+0.05) > 1e-9 || math.Abs(c.lo-c.mid) > 1e-9 || math.Abs(c.hi-c.mid) > 1e-9 {
		t.Errorf("5%% less in every turn: %v, %v", c, ok)
	}
	if !c.within(0.05+1e-9) || c.within(0.04) {
		t.Errorf("%v within ±5%% and not within ±4%%", c)
	}
	c, ok = pairedChange(a, noisy)
	if !ok || c.lo >= c.mid || c.hi <= c.mid || c.lo > -0.05 || c.hi < -0.05 || c.hi-c.lo > 0.2 {
		t.Errorf("5%% less give or take 4%%: %v", c)
	}
	// A turn that made nothing is left out; one pair is too few.
	if c, ok := pairedChange([]float64{10, 0}, []float64{9, 5}); ok {
		t.Errorf("one usable pair: %v", c)
	}
}

func TestMedianChange(t *testing.T) {
	var a, b []time.Duration
	for i := range 400 {
		d := 100*time.Millisecond + time.Duration(i)*time.Millisecond/4
		a = append(a, d)
		b = append(b, d*11/10)
	}
	c, ok := medianChange(a, b)
	if !ok || math.Abs(c.mid-0.10) > 0.001 || c.lo < 0.02 || c.lo > c.mid || c.hi < c.mid || c.hi > 0.18 {
		t.Errorf("10%% slower: %v", c)
	}
	if again, _ := medianChange(a, b); again != c {
		t.Errorf("not the same twice: %v and %v", c, again)
	}
	if _, ok := medianChange(a[:1], b); ok {
		t.Error("one capture: compared")
	}
}
