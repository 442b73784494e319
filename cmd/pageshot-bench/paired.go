package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// turn is what one server measured in one of its turns at the captures.
type turn struct {
	perSecond     float64       // successful captures per wall-clock second
	cpuPerCapture time.Duration // of the server and its browser; 0 when it made none
	latencies     []time.Duration
}

// change is a relative difference, b against a, with a 95% interval:
// +0.05 is 5% more.
type change struct{ mid, lo, hi float64 }

func (c change) String() string {
	return fmt.Sprintf("%+.1f%% (95%% interval %+.1f%% to %+.1f%%)", 100*c.mid, 100*c.lo, 100*c.hi)
}

// worse tells how sure c is to be more than bound worse (less when
// higher is better, more when lower is): "no more than 5% worse" when the
// whole interval says it is not, "more than 5% worse" when the whole
// interval says it is, "possibly more than 5% worse" in between; bound
// 0.05 gives these words.
func (c change) worse(bound float64, higherIsBetter bool) string {
	worst, best := c.hi, c.lo
	if higherIsBetter {
		worst, best = -c.lo, -c.hi
	}
	pct := fmt.Sprintf("%.0f%%", 100*bound)
	switch {
	case worst <= bound:
		return "no more than " + pct + " worse"
	case best > bound:
		return "more than " + pct + " worse"
	}
	return "possibly more than " + pct + " worse"
}

// pairedChange compares two servers that took turns: the mean of
// ln(b[i]/a[i]) over the turns i, with Student's t interval, taken back
// to a relative change. Pairing the turns removes what the machine's
// drift does to both alike. So the middle is the geometric mean of the
// turns' ratios, which can differ a little from the ratio of the totals.
// Pairs with a zero (a turn that made nothing) are left out and counted
// in dropped. It needs two pairs or more.
func pairedChange(a, b []float64) (c change, pairs, dropped int, ok bool) {
	var d []float64
	for i := range min(len(a), len(b)) {
		if a[i] > 0 && b[i] > 0 {
			d = append(d, math.Log(b[i]/a[i]))
		} else {
			dropped++
		}
	}
	if len(d) < 2 {
		return change{}, len(d), dropped, false
	}
	mean, sd := meanSD(d)
	half := tQuantile975(len(d)-1) * sd / math.Sqrt(float64(len(d)))
	return change{math.Expm1(mean), math.Expm1(mean - half), math.Expm1(mean + half)}, len(d), dropped, true
}

func meanSD(xs []float64) (float64, float64) {
	var sum float64
	for _, x := range xs {
		sum += x
	}
	mean := sum / float64(len(xs))
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss / float64(len(xs)-1))
}

// tQuantile975 is Student's t at 0.975 for df degrees of freedom: exact
// to 29, then the value at the table's row at or below df (30, 40, 60,
// 120), which errs on the wide side by under 1%.
func tQuantile975(df int) float64 {
	table := [...]float64{12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
		2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
		2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045}
	switch {
	case df < 1:
		return math.Inf(1)
	case df <= len(table):
		return table[df-1]
	case df < 40:
		return 2.042
	case df < 60:
		return 2.021
	case df < 120:
		return 2.000
	}
	return 1.980
}

// medianChange is the change in the median latency from a's turns to
// b's, with a percentile bootstrap interval. The pairs of turns are what
// is resampled (with a fixed seed, so that a report can be made again),
// each with all its captures: captures made side by side in one turn,
// and turns next to each other, are not independent, and a turn has too
// few captures for a median of its own.
func medianChange(a, b []turn) (change, bool) {
	n := min(len(a), len(b))
	all := func(ts []turn, idx []int) []time.Duration {
		var ds []time.Duration
		for _, i := range idx {
			ds = append(ds, ts[i].latencies...)
		}
		return ds
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	la, lb := all(a, idx), all(b, idx)
	if n < 2 || len(la) == 0 || len(lb) == 0 {
		return change{}, false
	}
	const resamples = 2000
	rng := rand.New(rand.NewPCG(1, 2))
	ratios := make([]float64, 0, resamples)
	for range resamples {
		for j := range idx {
			idx[j] = rng.IntN(n)
		}
		ra, rb := all(a, idx), all(b, idx)
		if len(ra) > 0 && len(rb) > 0 {
			ratios = append(ratios, float64(percentile(rb, 50))/float64(percentile(ra, 50)))
		}
	}
	slices.Sort(ratios)
	k := len(ratios)
	mid := float64(percentile(lb, 50)) / float64(percentile(la, 50))
	return change{mid - 1, ratios[k*25/1000] - 1, ratios[max(0, k*975/1000-1)] - 1}, true
}
