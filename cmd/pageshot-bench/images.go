package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"strings"
)

// pngImages returns the PNG images of the article page by file name: a hero
// picture, three bar charts and an author avatar. They are drawn
// deterministically, so every run serves the same bytes.
func pngImages() (map[string][]byte, error) {
	imgs := map[string]image.Image{
		"hero.png":   hero(1200, 420),
		"avatar.png": avatar(96),
	}
	for i := 1; i <= 3; i++ {
		imgs[fmt.Sprintf("chart-%d.png", i)] = barChart(640, 320, uint64(i))
	}
	out := make(map[string][]byte, len(imgs))
	for name, img := range imgs {
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			return nil, fmt.Errorf("encode %s: %w", name, err)
		}
		out[name] = buf.Bytes()
	}
	return out, nil
}

// hero draws a sky-to-sea gradient crossed by soft waves.
func hero(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			fy := float64(y) / float64(h)
			wave := 0.5 + 0.5*math.Sin(float64(x)/70+fy*9+math.Sin(float64(x)/230)*2)
			img.Set(x, y, color.RGBA{
				R: uint8(30 + 60*fy + 40*wave*fy),
				G: uint8(80 + 90*(1-fy) + 30*wave),
				B: uint8(140 + 100*wave*(1-fy/2)),
				A: 255,
			})
		}
	}
	return img
}

// barChart draws a bar chart with a grid on white; seed varies the bars.
func barChart(w, h int, seed uint64) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	fill(img, img.Bounds(), color.RGBA{255, 255, 255, 255})
	grid := color.RGBA{225, 229, 236, 255}
	for y := 20; y < h-30; y += 40 {
		fill(img, image.Rect(40, y, w-20, y+1), grid)
	}
	fill(img, image.Rect(40, h-30, w-20, h-28), color.RGBA{90, 98, 112, 255})
	r := rand.New(rand.NewPCG(seed, 7))
	palette := []color.RGBA{{37, 99, 235, 255}, {16, 185, 129, 255}, {245, 158, 11, 255}, {239, 68, 68, 255}}
	const bars = 12
	step := (w - 80) / bars
	for i := range bars {
		top := 30 + r.IntN(h-80)
		x := 50 + i*step
		fill(img, image.Rect(x, top, x+step-14, h-30), palette[i%len(palette)])
	}
	return img
}

// avatar draws a shaded disc on a transparent square.
func avatar(size int) image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	c := float64(size) / 2
	for y := range size {
		for x := range size {
			d := math.Hypot(float64(x)-c, float64(y)-c)
			if d > c {
				continue
			}
			t := d / c
			img.Set(x, y, color.NRGBA{R: uint8(200 - 80*t), G: uint8(120 - 40*t), B: uint8(90 + 60*t), A: 255})
		}
	}
	return img
}

// fill paints r in c.
func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			img.SetRGBA(x, y, c)
		}
	}
}

// logoSVG is the site logo, inline in the page header.
const logoSVG = `<svg class="logo" width="40" height="40" viewBox="0 0 40 40" aria-hidden="true">` +
	`<rect x="2" y="2" width="36" height="36" rx="9" fill="#2563eb"/>` +
	`<circle cx="20" cy="20" r="9" fill="none" stroke="#fff" stroke-width="4"/>` +
	`<circle cx="30" cy="10" r="3" fill="#fbbf24"/></svg>`

// lineChartSVG returns an inline SVG line chart of points random values,
// with a grid, an area under the line and axis labels.
func lineChartSVG(r *rand.Rand, points int) string {
	const w, h = 720, 240
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="Requests per second over time">`, w, h)
	for y := 20; y < h-20; y += 40 {
		fmt.Fprintf(&b, `<line x1="40" y1="%d" x2="%d" y2="%d" stroke="#e5e7eb"/>`, y, w-10, y)
		fmt.Fprintf(&b, `<text x="4" y="%d" font-size="11" fill="#6b7280">%d</text>`, y+4, (h-20-y)*5)
	}
	var line strings.Builder
	v := 120.0
	for i := range points {
		v = math.Max(30, math.Min(h-30, v+r.NormFloat64()*14))
		x := 40 + float64(i)*float64(w-50)/float64(points-1)
		fmt.Fprintf(&line, "%.1f,%.1f ", x, v)
	}
	pts := strings.TrimSpace(line.String())
	fmt.Fprintf(&b, `<polygon points="40,%d %s %d,%d" fill="#2563eb" fill-opacity="0.12"/>`, h-20, pts, w-10, h-20)
	fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="#2563eb" stroke-width="2.5" stroke-linejoin="round"/>`, pts)
	b.WriteString(`</svg>`)
	return b.String()
}

// donutSVG returns an inline SVG donut chart of the shares, which sum to 1.
func donutSVG(shares []float64) string {
	colors := []string{"#2563eb", "#10b981", "#f59e0b", "#ef4444", "#8b5cf6"}
	const r = 60.0
	circ := 2 * math.Pi * r
	var b strings.Builder
	b.WriteString(`<svg class="donut" width="180" height="180" viewBox="0 0 180 180" role="img" aria-label="Share of traffic">`)
	offset := 0.0
	for i, s := range shares {
		fmt.Fprintf(&b, `<circle cx="90" cy="90" r="%.0f" fill="none" stroke="%s" stroke-width="28" stroke-dasharray="%.2f %.2f" stroke-dashoffset="%.2f" transform="rotate(-90 90 90)"/>`,
			r, colors[i%len(colors)], s*circ, circ-s*circ, -offset*circ)
		offset += s
	}
	b.WriteString(`<text x="90" y="96" text-anchor="middle" font-size="18" font-weight="700" fill="#111827">100%</text></svg>`)
	return b.String()
}
