package browser

import (
	"bytes"
	stdflate "compress/flate"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/flate"
)

// inflateAll decodes chunks to the stream's end, reading in pieces of
// random sizes up to maxRead (then byte by byte, as a read past the end
// returns nothing). The error is errStreamEnd at a clean end.
func inflateAll(chunks [][]byte, maxRead int, rng *rand.Rand) ([]byte, error) {
	return inflateWith(new(inflater), chunks, maxRead, rng)
}

// inflateWith is inflateAll with f, reset for chunks, as a pooled packer
// reuses its inflater.
func inflateWith(f *inflater, chunks [][]byte, maxRead int, rng *rand.Rand) ([]byte, error) {
	f.reset(chunks, maxRead)
	var got []byte
	for small := false; ; {
		n := 1
		if !small {
			n = 1 + rng.IntN(maxRead)
		}
		b, err := f.read(n)
		if errors.Is(err, errStreamEnd) && !small {
			small = true
			continue
		}
		if err != nil {
			return got, err
		}
		got = append(got, b...)
	}
}

// deflate is data as compress/flate writes it at level.
func deflate(data []byte, level int) []byte {
	var z bytes.Buffer
	zw, _ := stdflate.NewWriter(&z, level)
	zw.Write(data)
	zw.Close()
	return z.Bytes()
}

// cut splits stream into chunks of random sizes, empty ones among them.
func cut(stream []byte, rng *rand.Rand) [][]byte {
	var chunks [][]byte
	for len(stream) > 0 {
		n := min(len(stream), rng.IntN(5000))
		chunks = append(chunks, stream[:n])
		stream = stream[n:]
	}
	return chunks
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
// levels from stored to best (Huffman only, fixed and dynamic codes
// among them), cut into chunks of every size, read in pieces of every
// size across the slides of the buffer, to the stream's end.
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
					for _, chunks := range [][][]byte{{z.Bytes()}, cut(z.Bytes(), rng)} {
						got, err := inflateAll(chunks, maxRead, rng)
						if !errors.Is(err, errStreamEnd) || !bytes.Equal(got, data) {
							t.Fatalf("%s, %s level %d, %d chunks, reads up to %d: %d of %d bytes, err %v", name, lib, level, len(chunks), maxRead, len(got), len(data), err)
						}
					}
				}
			}
		}
	}
}

// TestInflateCorrupt: a stream cut short, or with bits changed, is an
// error, never a panic or bytes that were not in it.
func TestInflateCorrupt(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	data := samples(rng)["screen"]
	var z bytes.Buffer
	zw, _ := flate.NewWriter(&z, 6)
	zw.Write(data)
	zw.Close()
	stream := z.Bytes()
	for _, n := range []int{0, 1, 2, 100, len(stream) / 2, len(stream) - 1} {
		got, err := inflateAll(cut(stream[:n], rng), 5000, rng)
		if err == nil || errors.Is(err, errStreamEnd) || !bytes.HasPrefix(data, got) {
			t.Errorf("cut to %d bytes: %d bytes, err %v", n, len(got), err)
		}
	}
	for range 2000 {
		bad := bytes.Clone(stream[:min(len(stream), 2000)])
		bad[rng.IntN(len(bad))] ^= byte(1 << rng.IntN(8))
		inflateAll([][]byte{bad}, 5000, rng) // must not panic
	}
	for name, stream := range map[string][]byte{
		"a distance before the start":        distanceBeforeStart(),
		"a stored block with a bad length":   {0x01, 0x05, 0x00, 0xfa, 0xfe, 1, 2, 3, 4, 5},
		"a literal/length code not all used": incompleteCode(),
		"a block of type 3":                  blockType3(),
		"the fixed code of symbol 286":       fixedSymbol286(),
		"288 literal/length codes":           tooManyCodes(),
		"code lengths repeated past the end": repeatPastEnd(),
		"a stored block past the stream":     append([]byte{0x01, 100, 0, 0x9b, 0xff}, make([]byte, 20)...),
	} {
		if _, werr := io.ReadAll(stdflate.NewReader(bytes.NewReader(stream))); werr == nil {
			t.Errorf("%s: compress/flate decodes it", name)
		}
		if got, err := inflateAll([][]byte{stream}, 10, rng); !errors.Is(err, errCorrupt) {
			t.Errorf("%s: %d bytes, err %v", name, len(got), err)
		}
	}

	// A stored block cut after its length, where the buffer is full but
	// for two bytes: the zeros loaded past the stream's end must not be
	// handed out as its first bytes.
	var f inflater
	f.reset(nil, 1)
	full := bytes.Repeat([]byte{0xaa}, f.span-2)
	var cutStored []byte
	for rest := full; len(rest) > 0; {
		n := min(len(rest), 65535)
		cutStored = append(cutStored, 0x00) // not the last block; stored
		cutStored = binary.LittleEndian.AppendUint16(cutStored, uint16(n))
		cutStored = binary.LittleEndian.AppendUint16(cutStored, ^uint16(n))
		cutStored = append(cutStored, rest[:n]...)
		rest = rest[n:]
	}
	cutStored = append(cutStored, 0x01, 10, 0, 0xf5, 0xff) // the last: 10 bytes that are not there
	if got, err := inflateAll([][]byte{cutStored}, 1, rng); !errors.Is(err, errCorrupt) || !bytes.Equal(got, full) {
		t.Errorf("a cut stored block: %d bytes (%d in the stream), err %v", len(got), len(full), err)
	}

	// A read larger than reset allowed is an error, not a loop.
	f.reset([][]byte{stream}, 100)
	if _, err := f.read(f.span + 1); err == nil {
		t.Error("a read larger than the buffer: no error")
	}
	f.reset([][]byte{stream}, 100)
	if _, err := f.read(101); err == nil {
		t.Error("a read larger than reset allowed: no error")
	}
}

// dynamicHeader starts the last block, of dynamic codes, with 257+hlit
// literal/length codes and 1 distance code, and the code length code:
// repeated zeros (18) "0", lengths 1 and 2 "10" and "11".
func dynamicHeader(hlit uint32) *bitWriter {
	w := new(bitWriter)
	w.put(1, 1)    // the last block
	w.put(2, 2)    // dynamic codes
	w.put(hlit, 5) // 257+hlit literal/length codes
	w.put(0, 5)    // 1 distance code
	w.put(15, 4)   // 19 code length code lengths follow
	for _, sym := range clOrder {
		switch sym {
		case 18:
			w.put(1, 3)
		case 1, 2:
			w.put(2, 3)
		default:
			w.put(0, 3)
		}
	}
	return w
}

// incompleteCode is a dynamic block, by hand, whose literal/length code
// leaves a quarter of its space unused: literal 0 has two bits, end of
// block one, every other symbol none. zlib refuses such a code.
func incompleteCode() []byte {
	w := dynamicHeader(0)
	w.putCode(0b11, 2) // literal 0: two bits
	w.putCode(0b0, 1)  // literals 1–138: none
	w.put(138-11, 7)
	w.putCode(0b0, 1) // literals 139–255: none
	w.put(117-11, 7)
	w.putCode(0b10, 2) // end of block: one bit
	w.putCode(0b10, 2) // distance 0: one bit
	w.putCode(0b0, 1)  // end of block
	return w.out
}

// distanceBeforeStart is a block of fixed codes: the literal "a", then a
// match 2 bytes back, one byte before the stream's start.
func distanceBeforeStart() []byte {
	var w bitWriter
	w.put(1, 1)            // the last block
	w.put(1, 2)            // fixed codes
	w.putCode(0x30+'a', 8) // literal "a"
	w.putCode(1, 7)        // length 3
	w.putCode(1, 5)        // distance 2
	w.putCode(0, 7)        // end of block
	return w.out
}

// blockType3 is the last block, of the type deflate reserves.
func blockType3() []byte {
	var w bitWriter
	w.put(1, 1)
	w.put(3, 2)
	return append(w.out, make([]byte, 8)...)
}

// fixedSymbol286 is a block of fixed codes holding symbol 286, which has
// a code and no meaning.
func fixedSymbol286() []byte {
	var w bitWriter
	w.put(1, 1)              // the last block
	w.put(1, 2)              // fixed codes
	w.putCode(0b11000110, 8) // 286
	return append(w.out, make([]byte, 8)...)
}

// tooManyCodes is a dynamic block that says it has 288 literal/length
// codes; 286 is the most.
func tooManyCodes() []byte {
	w := dynamicHeader(31) // 288 literal/length codes
	return append(w.out, make([]byte, 20)...)
}

// repeatPastEnd is a dynamic block whose code lengths repeat zeros past
// the 258 the header announced: three runs of 138.
func repeatPastEnd() []byte {
	w := dynamicHeader(0)
	for range 3 {
		w.putCode(0b0, 1) // 138 zeros
		w.put(138-11, 7)
	}
	return append(w.out, make([]byte, 20)...)
}

// bitWriter writes a deflate stream bit by bit, for streams made by
// hand.
type bitWriter struct {
	out   []byte
	nbits uint
}

// put writes the n low bits of v, the lowest first (header fields, extra
// bits).
func (w *bitWriter) put(v uint32, n uint) {
	for i := range n {
		if w.nbits%8 == 0 {
			w.out = append(w.out, 0)
		}
		w.out[len(w.out)-1] |= byte(v>>i&1) << (w.nbits % 8)
		w.nbits++
	}
}

// putCode writes a Huffman code of n bits, from its first bit.
func (w *bitWriter) putCode(c uint32, n uint) { w.put(reverse(c, n), n) }

// FuzzInflate: on any input, the inflater decodes what compress/flate
// decodes, to a clean end, and where compress/flate finds an error it
// finds one too, never with bytes of its own before it.
func FuzzInflate(f *testing.F) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, data := range samples(rng) {
		for _, level := range []int{0, 1, 6} {
			f.Add(deflate(data[:min(len(data), 3000)], level))
		}
	}
	f.Fuzz(func(t *testing.T, stream []byte) {
		want, werr := io.ReadAll(io.LimitReader(stdflate.NewReader(bytes.NewReader(stream)), 1<<20))
		if len(want) == 1<<20 {
			return // more than is worth comparing
		}
		got, err := inflateAll(cut(stream, rand.New(rand.NewPCG(1, uint64(len(stream))))), 4096, rand.New(rand.NewPCG(1, 1)))
		if werr == nil && (!errors.Is(err, errStreamEnd) || !bytes.Equal(got, want)) {
			t.Fatalf("compress/flate decodes %d bytes; inflater %d bytes, err %v", len(want), len(got), err)
		}
		if werr != nil && (errors.Is(err, errStreamEnd) || !bytes.Equal(got[:min(len(got), len(want))], want[:min(len(got), len(want))])) {
			t.Fatalf("compress/flate: %d bytes, then %v; inflater %d bytes, err %v", len(want), werr, len(got), err)
		}
	})
}

// TestInflateFixedShared: the fixed codes, which every inflater shares,
// are still right after an inflater has decoded a block with codes of
// its own, whether the next stream goes to a new inflater or to the same
// one, reset (as a pooled packer's is).
func TestInflateFixedShared(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	small := []byte("ab") // too short for dynamic codes to pay: fixed ones
	big := samples(rng)["text"]
	reused := new(inflater)
	for _, same := range []bool{false, true} {
		for i, data := range [][]byte{small, big, small, big} {
			f := reused
			if !same {
				f = new(inflater)
			}
			got, err := inflateWith(f, [][]byte{deflate(data, 6)}, 4096, rng)
			if !errors.Is(err, errStreamEnd) || !bytes.Equal(got, data) {
				t.Fatalf("same inflater %v, stream %d: %q, err %v", same, i, got[:min(len(got), 10)], err)
			}
		}
	}
}

// BenchmarkInflate inflates the image data of Chromium's fast PNG of the
// perf page row by row, with the inflater and, to compare, with
// klauspost/compress's reader. Run it with -cpu 1.
func BenchmarkInflate(b *testing.B) {
	p, err := parsePNG(perfPageFast(b))
	if err != nil {
		b.Fatal(err)
	}
	_, deflated := zlibHeader(p.idat)
	row := p.width*3 + 1
	b.Run("inflater", func(b *testing.B) {
		var f inflater
		for b.Loop() {
			f.reset(deflated, row)
			for range p.height {
				if _, err := f.read(row); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("klauspost", func(b *testing.B) {
		joined := bytes.Join(deflated, nil)
		buf := make([]byte, row)
		zr := flate.NewReader(bytes.NewReader(joined))
		for b.Loop() {
			_ = zr.(flate.Resetter).Reset(bytes.NewReader(joined), nil)
			for range p.height {
				if _, err := io.ReadFull(zr, buf); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
