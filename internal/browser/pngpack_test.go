package browser

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/adler32"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// testImage draws something like a page: flat areas, gradients, text-like
// strokes and a noisy photo, so that every PNG filter wins somewhere.
func testImage(w, h int, alpha bool) image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewPCG(7, 9))
	for y := range h {
		for x := range w {
			c := color.NRGBA{250, 250, 252, 255}
			switch {
			case y < h/4:
				c = color.NRGBA{uint8(x * 255 / w), uint8(y * 255 / h), 180, 255}
			case y < h/2 && x%7 < 2 && y%9 < 6:
				c = color.NRGBA{30, 30, 40, 255}
			case y >= 3*h/4 && x < w/2:
				c = color.NRGBA{uint8(rng.IntN(256)), uint8(100 + rng.IntN(50)), uint8(x), 255}
			}
			if alpha {
				c.A = uint8(128 + (x+y)%128)
			}
			img.SetNRGBA(x, y, c)
		}
	}
	if alpha {
		return img
	}
	rgb := image.NewRGBA(img.Bounds()) // opaque: encoded as RGB, color type 2
	for i := range rgb.Pix {
		rgb.Pix[i] = img.Pix[i]
	}
	return rgb
}

// mustParse splits the PNG data at its image data, or ends the test.
func mustParse(t *testing.T, data []byte) *pngFile {
	t.Helper()
	p, err := parsePNG(data)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func encode(t *testing.T, img image.Image, level png.CompressionLevel) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: level}).Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestPackPNG: a packed PNG decodes (the standard decoder checks every
// CRC and the Adler-32) to exactly the same pixels, and is smaller than
// the fast encoding it came from, for RGB and RGBA, whatever filters the
// input used, with rows whose length is not a multiple of eight bytes.
func TestPackPNG(t *testing.T) {
	for _, tc := range []struct {
		name  string
		w, h  int
		alpha bool
	}{
		{"rgb", 320, 300, false},
		{"rgba", 320, 300, true},
		{"small", 50, 40, false},
		{"odd rows", 97, 257, false},
		{"one deflater", 33, 4*headBatch - 1, false},
		{"two deflaters", 33, 4 * headBatch, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := testImage(tc.w, tc.h, tc.alpha)
			for _, level := range []png.CompressionLevel{png.BestSpeed, png.DefaultCompression, png.NoCompression} {
				in := encode(t, src, level)
				out, err := packPNG(in)
				if err != nil {
					t.Fatal(err)
				}
				want, _ := png.Decode(bytes.NewReader(in))
				got, err := png.Decode(bytes.NewReader(out))
				if err != nil {
					t.Fatalf("level %d: packed PNG does not decode: %v", level, err)
				}
				if !samePixels(want, got) {
					t.Fatalf("level %d: pixels changed", level)
				}
				if level == png.NoCompression && len(out) >= len(in) {
					t.Errorf("level %d: packed %d bytes, from %d", level, len(out), len(in))
				}
			}
		})
	}
}

// TestPackPNGPerfPage: Chromium's fast PNG of the benchmark's perf page
// packs to the same pixels, within the 1.10× of Chromium's default size
// that the default PNG is promised.
func TestPackPNGPerfPage(t *testing.T) {
	in := perfPageFast(t)
	out, err := packPNG(in)
	if err != nil {
		t.Fatal(err)
	}
	want, err := png.Decode(bytes.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	got, err := png.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("packed PNG does not decode: %v", err)
	}
	if !samePixels(want, got) {
		t.Fatal("pixels changed")
	}
	if ratio := float64(len(out)) / perfPageDefaultSize; ratio > 1.10 {
		t.Errorf("packed to %d bytes, %.3f× Chromium's default PNG", len(out), ratio)
	}
}

// TestPackPNGPassesOthers: what packPNG does not handle comes back as it
// was; what is not a PNG is an error.
func TestPackPNGPassesOthers(t *testing.T) {
	gray := image.NewGray(image.Rect(0, 0, 10, 10))
	in := encode(t, gray, png.BestSpeed)
	if out, err := packPNG(in); err != nil || !bytes.Equal(out, in) {
		t.Errorf("gray PNG: changed or %v", err)
	}
	if _, err := packPNG([]byte("GIF89a")); err == nil {
		t.Error("not a PNG: no error")
	}
	if _, err := packPNG(in[:40]); err == nil {
		t.Error("truncated PNG: no error")
	}
	// Whole chunks, but image data that ends early.
	p := mustParse(t, perfPageFast(t))
	if _, err := packPNG(p.with(p.idat[:len(p.idat)/2])); err == nil {
		t.Error("truncated image data: no error")
	}
	for name, idat := range map[string][][]byte{
		"one byte":            {{0x78}},
		"not deflate":         {{0x79, 0x9b}, p.idat[0][2:]},
		"a bad check value":   {{0x78, 0x9d}, p.idat[0][2:]},
		"a preset dictionary": {{0x78, 0xbb}, p.idat[0][2:]},
	} {
		if _, err := packPNG(p.with(idat)); err == nil || !strings.Contains(err.Error(), "bad zlib header") {
			t.Errorf("zlib header %s: %v", name, err)
		}
	}
}

func samePixels(a, b image.Image) bool {
	if a.Bounds() != b.Bounds() {
		return false
	}
	for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y++ {
		for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x++ {
			r1, g1, b1, a1 := a.At(x, y).RGBA()
			r2, g2, b2, a2 := b.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 || a1 != a2 {
				return false
			}
		}
	}
	return true
}

// perfPageDefaultSize is the size of Chromium's default PNG (libpng's
// adaptive filters, zlib level 6) of the same capture as
// testdata/perfpage-fast.png: the benchmark's perf page (cmd/pageshot-bench)
// at 1280×800, taken by chromium-headless-shell 156.0.8078.108, once with
// optimizeForSpeed (the fixture) and once without (this size).
const perfPageDefaultSize = 203609

func perfPageFast(tb testing.TB) []byte {
	tb.Helper()
	data, err := os.ReadFile("testdata/perfpage-fast.png")
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// BenchmarkPackPNG packs Chromium's fast PNG of the perf page; "ratio" is
// the packed size over Chromium's default PNG of the same capture. Run it
// with -cpu 1 to read the CPU one image costs.
func BenchmarkPackPNG(b *testing.B) {
	in := perfPageFast(b)
	var out []byte
	for b.Loop() {
		var err error
		if out, err = packPNG(in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(out))/perfPageDefaultSize, "ratio")
}

// TestByteWise checks the eight-bytes-at-a-time helpers against the
// byte loop they stand for, at every length up to 80 and offset up to 4.
func TestByteWise(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	a, b := make([]byte, 90), make([]byte, 90)
	for round := range 200 {
		for i := range a {
			// Mostly equal bytes, as in a page: runs of zero differences.
			a[i], b[i] = byte(rng.IntN(4)), byte(rng.IntN(4))
			if round%2 == 0 {
				a[i], b[i] = byte(rng.IntN(256)), byte(rng.IntN(256))
			}
		}
		for n := range 81 {
			for off := range 5 {
				x, y := a[off:off+n], b[:n]
				sum, diff := make([]byte, n), make([]byte, n)
				addBytes(sum, x, y)
				subBytes(diff, x, y)
				nd, nz := 0, 0
				for i := range n {
					if sum[i] != x[i]+y[i] || diff[i] != x[i]-y[i] {
						t.Fatalf("n %d off %d: byte %d: sum %d diff %d of %d and %d", n, off, i, sum[i], diff[i], x[i], y[i])
					}
					if x[i] != y[i] {
						nd++
					}
					if x[i] != 0 {
						nz++
					}
				}
				if got := diffBytes(x, y); got != nd {
					t.Fatalf("n %d off %d: diffBytes %d, want %d", n, off, got, nd)
				}
				if got := nonzeroBytes(x); got != nz {
					t.Fatalf("n %d off %d: nonzeroBytes %d, want %d", n, off, got, nz)
				}
			}
		}
	}
}

// with returns the file p with the image data idat, in IDAT chunks as
// given.
func (p *pngFile) with(idat [][]byte) []byte {
	out := append([]byte{}, pngHeader...)
	out = append(out, p.before...)
	for _, c := range idat {
		out = binary.BigEndian.AppendUint32(out, uint32(len(c)))
		start := len(out)
		out = append(out, "IDAT"...)
		out = append(out, c...)
		out = binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[start:]))
	}
	return append(out, p.after...)
}

// TestPackPNGChunks: image data cut into chunks of any size, empty ones
// and one that splits the zlib header among them, packs to the same file
// as in Chromium's 4 KB chunks, and leaves its input as it was.
func TestPackPNGChunks(t *testing.T) {
	in := perfPageFast(t)
	want, err := packPNG(in)
	if err != nil {
		t.Fatal(err)
	}
	p := mustParse(t, in)
	var stream []byte
	for _, c := range p.idat {
		stream = append(stream, c...)
	}
	chunks := [][]byte{{}, stream[:1], {}, stream[1:2], stream[2:1000]}
	for rest := stream[1000:]; len(rest) > 0; {
		n := min(len(rest), 1+len(rest)%7919)
		chunks = append(chunks, rest[:n], []byte{})
		rest = rest[n:]
	}
	cut := p.with(chunks)
	before := bytes.Clone(cut)
	got, err := packPNG(cut)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("packed differently from other chunks of the same data")
	}
	if !bytes.Equal(cut, before) {
		t.Error("the input was changed")
	}
}

// TestPackPNGBadRow: a row with an unknown filter type, in the rows of
// either deflater, is an error, and the packer goes back to the pool only
// once the second goroutine is done with it (run with -race).
func TestPackPNGBadRow(t *testing.T) {
	const w, h = 40, 300
	good := encode(t, testImage(w, h, false), png.NoCompression)
	p := mustParse(t, good)
	for _, bad := range []int{3, h - 2} {
		raw := make([]byte, h*(3*w+1))
		raw[bad*(3*w+1)] = 9
		var z bytes.Buffer
		zw := zlib.NewWriter(&z)
		zw.Write(raw)
		zw.Close()
		if _, err := packPNG(p.with([][]byte{z.Bytes()})); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("row %d: filter type 9", bad)) {
			t.Errorf("row %d of filter type 9: err = %v", bad, err)
		}
	}
	if _, err := packPNG(good); err != nil {
		t.Fatalf("after the errors: %v", err)
	}
}

// TestAdler32Combine: the Adler-32 of two parts combined is that of the
// whole, at every cut of some lengths around the modulus.
func TestAdler32Combine(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 5552, 65520, 65521, 65522, 200_000} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		for _, cut := range []int{0, n / 3, n} {
			got := adler32Combine(adler32.Checksum(b[:cut]), adler32.Checksum(b[cut:]), n-cut)
			if want := adler32.Checksum(b); got != want {
				t.Errorf("n=%d cut=%d: %08x, want %08x", n, cut, got, want)
			}
		}
	}
	// The largest sums each part can have.
	ones := bytes.Repeat([]byte{0xff}, 70_000)
	if got, want := adler32Combine(adler32.Checksum(ones[:30_000]), adler32.Checksum(ones[30_000:]), 40_000), adler32.Checksum(ones); got != want {
		t.Errorf("0xff bytes: %08x, want %08x", got, want)
	}
}

// TestPackPNGSeam: the tail's deflater starts from the head's last rows,
// as one deflater would: on an image of eight rows of noise repeated, the
// tail costs next to nothing, where a deflater starting afresh spends
// about eight rows of noise again after the seam.
func TestPackPNGSeam(t *testing.T) {
	const w, h, period = 256, 400, 8
	rng := rand.New(rand.NewPCG(5, 6))
	noise := make([][]byte, period)
	for i := range noise {
		noise[i] = make([]byte, 3*w)
		for j := range noise[i] {
			noise[i][j] = byte(rng.IntN(256))
		}
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			px := noise[y%period][3*x:]
			img.SetRGBA(x, y, color.RGBA{px[0], px[1], px[2], 255})
		}
	}
	in := encode(t, img, png.BestSpeed)
	out, err := packPNG(in)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := png.Decode(bytes.NewReader(out))
	if want, _ := png.Decode(bytes.NewReader(in)); !samePixels(want, got) {
		t.Fatal("pixels changed")
	}
	rows := period * (3*w + 1)
	t.Logf("packed to %d bytes; %d rows of noise are %d bytes", len(out), period, rows)
	// About 1.5× with the head's rows as the tail's start (the filters
	// take a few rows to repeat too), 2.5× without.
	if len(out) > 2*rows {
		t.Errorf("packed to %d bytes, more than twice the %d bytes of the %d rows of noise", len(out), rows, period)
	}
}

// TestPackPNGMemory: what packing holds does not grow with the image:
// a tall image is packed with a few batches of rows in flight and a
// window of the inflated stream, not with its rows kept (a full page can
// have tens of millions of pixels).
func TestPackPNGMemory(t *testing.T) {
	const w = 200
	held := func(h int) int {
		in := encode(t, testImage(w, h, false), png.BestSpeed)
		pk := packers.New().(*packer)
		if _, err := pk.packFile(mustParse(t, in)); err != nil {
			t.Fatal(err)
		}
		n := cap(pk.inf.out) + cap(pk.out) + cap(pk.cur) + cap(pk.prev) + cap(pk.dict)
		for _, b := range pk.head.buffers {
			n += cap(b)
		}
		return n
	}
	short, tall := held(2000), held(16000)
	if raw := 16000 * (3*w + 1); short == 0 || tall > short || tall > raw/16 {
		t.Errorf("the packer holds %d bytes of rows for an image 2000 rows high, %d for one of 16000 (%d bytes)", short, tall, raw)
	}
}
