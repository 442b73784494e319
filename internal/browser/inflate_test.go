package browser

import (
	"bytes"
	stdflate "compress/flate"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/flate"
)

// inflateAll decodes all of stream, which decodes to want bytes, reading
// it in pieces of random sizes up to maxRead.
func inflateAll(stream []byte, want, maxRead int, rng *rand.Rand) ([]byte, error) {
	var f inflater
	f.reset(stream, maxRead)
	var got []byte
	for len(got) < want {
		n := min(want-len(got), 1+rng.IntN(maxRead))
		b, err := f.read(n)
		if err != nil {
			return got, err
		}
		got = append(got, b...)
	}
	return got, nil
}

// samples are inputs alike in kind to what the inflater meets (runs of
// zeros broken by short differences, as in a filtered screenshot) and
// unlike it (random bytes, text, nothing).
func samples(rng *rand.Rand) map[string][]byte {
	screen := make([]byte, 600_000)
	for i := range screen {
		if rng.IntN(10) == 0 {
			screen[i] = byte(rng.IntN(256))
		}
	}
	random := make([]byte, 100_000)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	text := bytes.Repeat([]byte("the page, the pixel, the picture; "), 5000)
	return map[string][]byte{"screen": screen, "random": random, "text": text, "empty": nil, "one": {7}, "zeros": make([]byte, 300_000)}
}

// TestInflate decodes what compress/flate and klauspost/compress make at
// every level (stored, Huffman only, fixed and dynamic codes), read in
// pieces of every size, across the slides of the buffer.
func TestInflate(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for name, data := range samples(rng) {
		for _, level := range []int{-2, 0, 1, 2, 4, 6, 9} {
			for lib, compress := range map[string]func(io.Writer, int) (io.WriteCloser, error){
				"compress/flate": func(w io.Writer, l int) (io.WriteCloser, error) { return stdflate.NewWriter(w, l) },
				"klauspost":      func(w io.Writer, l int) (io.WriteCloser, error) { return flate.NewWriter(w, l) },
			} {
				var z bytes.Buffer
				zw, err := compress(&z, level)
				if err != nil {
					t.Fatal(err)
				}
				zw.Write(data)
				zw.Close()
				for _, maxRead := range []int{1, 3841, 70_000} {
					got, err := inflateAll(z.Bytes(), len(data), maxRead, rng)
					if err != nil || !bytes.Equal(got, data) {
						t.Fatalf("%s, %s level %d, reads up to %d: %d of %d bytes, err %v", name, lib, level, maxRead, len(got), len(data), err)
					}
				}
			}
		}
	}
}

// TestInflateCorrupt: a stream cut short, or with bits changed, is an
// error, never a panic or bytes that were not there.
func TestInflateCorrupt(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	data := samples(rng)["screen"]
	var z bytes.Buffer
	zw, _ := flate.NewWriter(&z, 6)
	zw.Write(data)
	zw.Close()
	stream := z.Bytes()
	for _, cut := range []int{0, 1, 2, 100, len(stream) / 2, len(stream) - 1} {
		if got, err := inflateAll(stream[:cut], len(data), 5000, rng); err == nil {
			t.Errorf("cut to %d bytes: %d bytes and no error", cut, len(got))
		}
	}
	// A reference before the stream's start.
	if _, err := inflateAll([]byte{0x63, 0x00, 0x02, 0x00}, 10, 10, rng); err == nil {
		t.Error("a distance before the start: no error")
	}
	// A stored block whose length does not match its complement.
	if _, err := inflateAll([]byte{0x01, 0x05, 0x00, 0xfa, 0xfe, 1, 2, 3, 4, 5}, 5, 5, rng); err == nil {
		t.Error("a stored block with a bad length: no error")
	}
	for range 2000 {
		bad := bytes.Clone(stream[:min(len(stream), 2000)])
		bad[rng.IntN(len(bad))] ^= byte(1 << rng.IntN(8))
		inflateAll(bad, len(data), 5000, rng) // must not panic
	}
}

// FuzzInflate: on any input, the inflater agrees with compress/flate
// where that decodes it, and does not panic where it does not.
func FuzzInflate(f *testing.F) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, data := range samples(rng) {
		for _, level := range []int{0, 1, 6} {
			var z bytes.Buffer
			zw, _ := stdflate.NewWriter(&z, level)
			zw.Write(data[:min(len(data), 3000)])
			zw.Close()
			f.Add(z.Bytes())
		}
	}
	f.Fuzz(func(t *testing.T, stream []byte) {
		want, werr := io.ReadAll(io.LimitReader(stdflate.NewReader(bytes.NewReader(stream)), 1<<20))
		got, err := inflateAll(stream, len(want), 4096, rand.New(rand.NewPCG(1, 1)))
		if werr == nil && (err != nil || !bytes.Equal(got, want)) {
			t.Fatalf("compress/flate decodes %d bytes; inflater %d bytes, err %v", len(want), len(got), err)
		}
	})
}

// TestInflateFixedShared: the fixed codes, which every inflater shares,
// are still right after an inflater has decoded a block with codes of
// its own.
func TestInflateFixedShared(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	deflate := func(data []byte) []byte {
		var z bytes.Buffer
		zw, _ := stdflate.NewWriter(&z, 6)
		zw.Write(data)
		zw.Close()
		return z.Bytes()
	}
	small := []byte("ab") // too short for dynamic codes to pay: fixed ones
	big := samples(rng)["text"]
	for i, data := range [][]byte{small, big, small} {
		got, err := inflateAll(deflate(data), len(data), 4096, rng)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("stream %d: %q, err %v", i, got[:min(len(got), 10)], err)
		}
	}
}
