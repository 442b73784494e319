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
	cpuPerCapture time.Duration // of the server and its browser
}

// change is a relative difference, b against a, with a 95% interval:
// +0.05 is 5% more.
type change struct{ mid, lo, hi float64 }

func (c change) String() string {
	return fmt.Sprintf("%+.1f%% (95%% interval %+.1f%% to %+.1f%%)", 100*c.mid, 100*c.lo, 100*c.hi)
}

// within reports whether the whole interval lies within ±bound.
func (c change) within(bound float64) bool { return c.lo >= -bound && c.hi <= bound }

// pairedChange compares two servers that took turns: the mean of
// ln(b[i]/a[i]) over the turns i, with Student's t interval, taken back
// to a relative change. Pairing the turns removes what the machine's
// drift does to both alike. It needs two pairs or more.
func pairedChange(a, b []float64) (change, bool) {
	var d []float64
	for i := range min(len(a), len(b)) {
		if a[i] > 0 && b[i] > 0 {
			d = append(d, math.Log(b[i]/a[i]))
		}
	}
	if len(d) < 2 {
		return change{}, false
	}
	mean, sd := meanSD(d)
	half := tQuantile975(len(d)-1) * sd / math.Sqrt(float64(len(d)))
	return change{math.Expm1(mean), math.Expm1(mean - half), math.Expm1(mean + half)}, true
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

// tQuantile975 is Student's t at 0.975 for df degrees of freedom (1.96
// from 30 on, where it is within 4% of it).
func tQuantile975(df int) float64 {
	table := [...]float64{12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
		2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
		2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045}
	if df >= 1 && df <= len(table) {
		return table[df-1]
	}
	return 1.96
}

// medianChange is the change in the median latency from a to b, with a
// percentile bootstrap interval: the captures are resampled (with a fixed
// seed, so that a report can be made again) rather than paired, as a turn
// has too few of them for a median of its own.
func medianChange(a, b []time.Duration) (change, bool) {
	if len(a) < 2 || len(b) < 2 {
		return change{}, false
	}
	const resamples = 2000
	rng := rand.New(rand.NewPCG(1, 2))
	ratios := make([]float64, resamples)
	ra, rb := make([]time.Duration, len(a)), make([]time.Duration, len(b))
	for i := range ratios {
		for j := range ra {
			ra[j] = a[rng.IntN(len(a))]
		}
		for j := range rb {
			rb[j] = b[rng.IntN(len(b))]
		}
		ratios[i] = float64(percentile(rb, 50)) / float64(percentile(ra, 50))
	}
	slices.Sort(ratios)
	mid := float64(percentile(b, 50)) / float64(percentile(a, 50))
	return change{mid - 1, ratios[resamples*25/1000] - 1, ratios[resamples*975/1000-1] - 1}, true
}
