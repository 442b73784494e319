// Package palette finds the dominant colours of an image by median cut
// (Heckbert, 1982) in its variance-based form (Wan, Wong and Prusinkiewicz,
// 1988): the box of colours with the largest squared error is split along
// its channel of largest variance, at the cut that leaves the least squared
// error on both sides (which, unlike the median, does not cut through one
// large area of a colour), until there are enough boxes; each box gives one
// colour, the mean of its pixels. Colours come out most common first.
package palette

import (
	"cmp"
	"fmt"
	"image"
	"slices"
)

// maxSamples bounds the pixels looked at: a larger image is sampled on a
// regular grid, which keeps the proportions of its colours.
const maxSamples = 250_000

// Color is one colour of a palette and the share of the image it stands
// for, from 0 to 1.
type Color struct {
	R, G, B uint8
	Share   float64
}

// Hex returns the colour as #rrggbb.
func (c Color) Hex() string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }

// Dominant returns at most n colours of img, most common first. Fully
// transparent pixels are left out. An image with fewer distinct colours
// than n gives fewer.
func Dominant(img image.Image, n int) []Color {
	if n < 1 {
		return nil
	}
	px := sample(img)
	if len(px) == 0 {
		return nil
	}
	boxes := []box{{px: px}}
	for len(boxes) < n {
		best, bestSSE := -1, 0.0
		for i, b := range boxes {
			if sse := b.sse(); sse > bestSSE && len(b.px) > 1 {
				best, bestSSE = i, sse
			}
		}
		if best < 0 {
			break // every box holds one colour
		}
		a, b := boxes[best].split()
		boxes[best] = a
		boxes = append(boxes, b)
	}
	out := make([]Color, 0, len(boxes))
	for _, b := range boxes {
		out = append(out, b.mean(len(px)))
	}
	slices.SortStableFunc(out, func(a, b Color) int { return cmp.Compare(b.Share, a.Share) })
	return out
}

type pixel [3]uint8

func sample(img image.Image) []pixel {
	bounds := img.Bounds()
	total := bounds.Dx() * bounds.Dy()
	step := 1
	for total/(step*step) > maxSamples {
		step++
	}
	px := make([]pixel, 0, min(total, maxSamples))
	for y := bounds.Min.Y; y < bounds.Max.Y; y += step {
		for x := bounds.Min.X; x < bounds.Max.X; x += step {
			r, g, b, a := img.At(x, y).RGBA()
			if a == 0 {
				continue
			}
			// Undo the premultiplication of translucent pixels.
			r, g, b = r*0xffff/a, g*0xffff/a, b*0xffff/a
			px = append(px, pixel{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8)})
		}
	}
	return px
}

type box struct{ px []pixel }

// variance returns the variance of each channel and the sums it came from.
func (b box) variance() (v [3]float64) {
	var sum, sq [3]float64
	for _, p := range b.px {
		for c := range 3 {
			f := float64(p[c])
			sum[c] += f
			sq[c] += f * f
		}
	}
	n := float64(len(b.px))
	for c := range 3 {
		v[c] = sq[c]/n - (sum[c]/n)*(sum[c]/n)
	}
	return v
}

// sse is the box's squared error: its pixels' squared distance to its mean.
func (b box) sse() float64 {
	v := b.variance()
	return (v[0] + v[1] + v[2]) * float64(len(b.px))
}

// split cuts b in two along its channel of largest variance, where the two
// halves' squared error along that channel is least (Otsu's threshold on
// the channel's histogram). Pixels of one value always go to one side.
func (b box) split() (box, box) {
	v := b.variance()
	ch := 0
	for c := 1; c < 3; c++ {
		if v[c] > v[ch] {
			ch = c
		}
	}
	var count, sum [256]float64
	for _, p := range b.px {
		count[p[ch]]++
		sum[p[ch]] += float64(p[ch])
	}
	n, total := float64(len(b.px)), 0.0
	for i := range 256 {
		total += sum[i]
	}
	// Maximising the between-class variance minimises the squared error
	// left on both sides.
	bestT, bestScore := -1, -1.0
	var n0, s0 float64
	for t := 0; t < 255; t++ {
		n0 += count[t]
		s0 += sum[t]
		n1 := n - n0
		if n0 == 0 || n1 == 0 {
			continue
		}
		m0, m1 := s0/n0, (total-s0)/n1
		if score := n0 * n1 * (m0 - m1) * (m0 - m1); score > bestScore {
			bestT, bestScore = t, score
		}
	}
	slices.SortFunc(b.px, func(p, q pixel) int { return cmp.Compare(p[ch], q[ch]) })
	if bestT < 0 { // one value on this channel: not reached while sse > 0
		return box{px: b.px[:len(b.px)/2]}, box{px: b.px[len(b.px)/2:]}
	}
	cut, _ := slices.BinarySearchFunc(b.px, uint8(bestT+1), func(p pixel, t uint8) int { return cmp.Compare(p[ch], t) })
	return box{px: b.px[:cut]}, box{px: b.px[cut:]}
}

func (b box) mean(total int) Color {
	var sum [3]int
	for _, p := range b.px {
		for c := range 3 {
			sum[c] += int(p[c])
		}
	}
	n := len(b.px)
	return Color{
		R: uint8((sum[0] + n/2) / n), G: uint8((sum[1] + n/2) / n), B: uint8((sum[2] + n/2) / n),
		Share: float64(n) / float64(total),
	}
}
