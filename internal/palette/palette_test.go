package palette

import (
	"image"
	"image/color"
	"math/rand/v2"
	"testing"
)

// bands returns an image of horizontal bands of the given colours and
// heights (out of 100 rows), each pixel shifted by up to ±noise per
// channel.
func bands(w int, noise int, cs []color.RGBA, heights []int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, 100))
	rng := rand.New(rand.NewPCG(1, 2))
	y := 0
	for i, c := range cs {
		for range heights[i] {
			for x := range w {
				j := func(v uint8) uint8 {
					if noise == 0 {
						return v
					}
					return uint8(min(255, max(0, int(v)+rng.IntN(2*noise+1)-noise)))
				}
				img.SetRGBA(x, y, color.RGBA{j(c.R), j(c.G), j(c.B), 255})
			}
			y++
		}
	}
	return img
}

func close(c Color, want color.RGBA, tol int) bool {
	d := func(a, b uint8) bool { v := int(a) - int(b); return v <= tol && v >= -tol }
	return d(c.R, want.R) && d(c.G, want.G) && d(c.B, want.B)
}

func TestDominant(t *testing.T) {
	red, blue, green := color.RGBA{200, 20, 20, 255}, color.RGBA{20, 40, 200, 255}, color.RGBA{30, 180, 60, 255}
	tests := []struct {
		name    string
		img     image.Image
		n       int
		want    []color.RGBA
		shares  []float64
		tolShar float64
	}{
		{"three bands in order of area", bands(50, 0, []color.RGBA{green, red, blue}, []int{10, 60, 30}), 3, []color.RGBA{red, blue, green}, []float64{0.6, 0.3, 0.1}, 0.001},
		{"noisy bands", bands(80, 6, []color.RGBA{green, red, blue}, []int{10, 60, 30}), 3, []color.RGBA{red, blue, green}, []float64{0.6, 0.3, 0.1}, 0.001},
		{"fewer colours than asked", bands(10, 0, []color.RGBA{blue, red}, []int{40, 60}), 8, []color.RGBA{red, blue}, []float64{0.6, 0.4}, 0.001},
		{"sampled large image", bands(4000, 0, []color.RGBA{red, blue}, []int{75, 25}), 2, []color.RGBA{red, blue}, []float64{0.75, 0.25}, 0.02},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Dominant(tt.img, tt.n)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d colours %v, want %d", len(got), got, len(tt.want))
			}
			for i, w := range tt.want {
				if !close(got[i], w, 4) {
					t.Errorf("colour %d = %s, want about %v", i, got[i].Hex(), w)
				}
				if d := got[i].Share - tt.shares[i]; d > tt.tolShar || d < -tt.tolShar {
					t.Errorf("colour %d share = %.3f, want %.3f", i, got[i].Share, tt.shares[i])
				}
			}
		})
	}
}

func TestDominantTransparentAndEmpty(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 10, 10))
	if got := Dominant(img, 3); len(got) != 0 {
		t.Errorf("transparent image: %v", got)
	}
	for x := range 10 {
		img.SetNRGBA(x, 0, color.NRGBA{255, 0, 0, 128}) // translucent red
	}
	got := Dominant(img, 3)
	if len(got) != 1 || got[0].Hex() != "#ff0000" || got[0].Share != 1 {
		t.Errorf("translucent red: %v", got)
	}
	if got := Dominant(img, 0); got != nil {
		t.Errorf("n=0: %v", got)
	}
}

func TestHex(t *testing.T) {
	if h := (Color{R: 0x1a, G: 0x1a, B: 0x2e}).Hex(); h != "#1a1a2e" {
		t.Errorf("Hex = %s", h)
	}
}
