package browser

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/adler32"
	"hash/crc32"
	"io"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/flate"
)

// packLevel is the deflate level of packPNG. Measured on the benchmark's
// perf page (1280×800, BenchmarkPackPNG, with the filters packPNG
// chooses): klauspost's level 6 comes to 1.065× Chromium's default PNG,
// level 5 to 1.095× and level 4 to 1.110×, for about 1 and 2.5 ms less
// CPU in 16.5 (see BENCHMARKS.md). Level 6 leaves a margin under 1.10×
// for pages that compress worse than this one.
const packLevel = 6

// packPNG re-encodes Chromium's fast PNG (optimizeForSpeed: every row
// "Up"-filtered, zlib at its fastest) to about the size of Chromium's
// default encoding for a fraction of its CPU: row by row, it inflates the
// row (with an inflater of its own, see inflater), undoes its filter,
// gives it the Sub or the Up filter (by their counts of non-zero bytes,
// see pack), and deflates it with klauspost/compress into one zlib
// stream, in two parts at once. The pixels are unchanged. The input's
// Adler-32 is not checked (Chromium made it a moment ago); the output's
// is written.
//
// Images it does not handle (a bit depth other than 8, palette, gray,
// interlaced) are returned as they are.
func packPNG(data []byte) ([]byte, error) {
	p, err := parsePNG(data)
	if err != nil || !p.packable() {
		return data, err
	}
	pk := packers.Get().(*packer)
	defer pk.release()
	return pk.packFile(p)
}

// packFile is packPNG of a parsed, packable p, with pk.
func (pk *packer) packFile(p *pngFile) ([]byte, error) {
	bpp := 3
	if p.colorType == 6 {
		bpp = 4
	}
	// The zlib header: deflate, no preset dictionary. The rest is read
	// as raw deflate, so that the Adler-32 is not computed. The chunks
	// are read where they are (Chromium's are of 4 KB).
	zh, deflated := zlibHeader(p.idat)
	if len(zh) < 2 || zh[0]&0x0f != 8 || zh[1]&0x20 != 0 || binary.BigEndian.Uint16(zh)%31 != 0 {
		return nil, errors.New("pack png: bad zlib header")
	}
	out, err := pk.pack(p, deflated, p.width*bpp, bpp)
	if err != nil {
		return nil, fmt.Errorf("pack png: %w", err)
	}
	return out, nil
}

// zlibHeader returns the first two bytes of the stream that chunks make
// one after the other (fewer if it is shorter), and the chunks of the
// rest, without copying their bytes.
func zlibHeader(chunks [][]byte) ([]byte, [][]byte) {
	var h []byte
	for len(chunks) > 0 && len(h) < 2 {
		n := min(2-len(h), len(chunks[0]))
		h = append(h, chunks[0][:n]...)
		if n < len(chunks[0]) {
			rest := slices.Clone(chunks) // p's own list stays as it is
			rest[0] = rest[0][n:]
			return h, rest
		}
		chunks = chunks[1:]
	}
	return h, chunks
}

// packer holds what packPNG reuses from one image to the next: the
// inflater, the two deflaters (the state of one at level 6 is most of a
// megabyte), the rows, the head's batches and the two parts of the new
// stream.
type packer struct {
	inf            inflater
	tail           *flate.Writer
	tailSum        hash.Hash32 // Adler-32 of the tail's rows
	cur, prev, out []byte
	dict           []byte // the last rows of the head, at least 32 KB of them
	tailZ          bytes.Buffer
	head           headWriter
}

var packers = sync.Pool{New: func() any {
	head, err := flate.NewWriter(nil, packLevel)
	if err != nil {
		panic(err) // only for a level out of range
	}
	tail, _ := flate.NewWriter(nil, packLevel)
	return &packer{tail: tail, tailSum: adler32.New(), head: headWriter{zw: head, sum: adler32.New()}}
}}

// keepBytes bounds what a pooled packer keeps of an image's output
// between uses: a capture far larger than most is not held on to.
const keepBytes = 4 << 20

// release puts pk back in the pool without the images it last read and
// wrote, which it would otherwise keep alive until its next use.
func (pk *packer) release() {
	pk.head.zw.Reset(io.Discard)
	pk.tail.ResetDict(io.Discard, nil)
	pk.inf.release(keepBytes)
	for _, b := range []*bytes.Buffer{&pk.head.z, &pk.tailZ} {
		if b.Cap() > keepBytes {
			*b = bytes.Buffer{}
		}
		b.Reset()
	}
	packers.Put(pk)
}

// headWriter deflates the head's rows on a goroutine of its own. It takes
// them in batches of headBatch rows through a few buffers that go round
// between the two goroutines, so that what it holds does not grow with
// the image.
type headWriter struct {
	zw      *flate.Writer
	sum     hash.Hash32
	z       bytes.Buffer // the head's part of the stream
	buffers [][]byte     // headBuffers of them, reused from image to image
	ready   chan []byte  // filled batches, in order
	free    chan []byte  // batches to fill
	done    chan error
	abort   atomic.Bool // the image is bad: skip the rest
	batch   []byte      // being filled
	size    int         // bytes of a full batch
	running bool
}

// headBuffers is how many batches can be on their way at once.
const headBuffers = 4

// start starts the goroutine, for rows of rowLen bytes.
func (h *headWriter) start(rowLen int) {
	h.size = headBatch * rowLen
	h.ready, h.free, h.done = make(chan []byte, headBuffers), make(chan []byte, headBuffers), make(chan error, 1)
	for i := range headBuffers {
		if i == len(h.buffers) {
			h.buffers = append(h.buffers, nil)
		}
		if cap(h.buffers[i]) < h.size || cap(h.buffers[i]) > max(h.size, keepBytes) {
			h.buffers[i] = make([]byte, 0, h.size)
		}
		h.free <- h.buffers[i][:0]
	}
	h.batch = nil
	h.abort.Store(false)
	h.zw.Reset(&h.z)
	h.sum.Reset()
	h.running = true
	go func() {
		var err error
		for b := range h.ready {
			if err == nil && !h.abort.Load() {
				_, err = h.zw.Write(b)
				h.sum.Write(b)
			}
			h.free <- b[:0]
		}
		if err == nil && !h.abort.Load() {
			err = h.zw.Flush() // a sync flush: the tail follows on a byte boundary
		}
		h.done <- err
	}()
}

// add copies row into the batch being filled, and hands the batch over
// when it is full.
func (h *headWriter) add(row []byte) {
	if h.batch == nil {
		h.batch = <-h.free
	}
	h.batch = append(h.batch, row...)
	if len(h.batch) >= h.size {
		h.ready <- h.batch
		h.batch = nil
	}
}

// finish hands over the last batch and waits for the head's part of the
// stream; h.z then holds it, and h.sum the rows' Adler-32.
func (h *headWriter) finish() error {
	if !h.running {
		return nil
	}
	if len(h.batch) > 0 {
		h.ready <- h.batch
		h.batch = nil
	}
	return h.stop()
}

// cancel tells the goroutine to skip what is left of a bad image, and
// waits for it. A no-op when it is not running.
func (h *headWriter) cancel() {
	if h.running {
		h.abort.Store(true)
		_ = h.stop()
	}
}

// stop ends the goroutine without the batch being filled, and waits for
// it: it uses the packer. A no-op when it is not running.
func (h *headWriter) stop() error {
	if !h.running {
		return nil
	}
	h.running = false
	close(h.ready)
	return <-h.done
}

// headShare is the part of the rows that a second goroutine deflates
// while the first inflates and filters all of them and then deflates the
// rest. The two end together at 1/2 + I/2D, I being the time inflating
// and filtering a row takes and D deflating it. The value is worked out
// from the parts' times on one core (perf page: 5.3 ms for the inflater
// and 1.6 for the filters, against 11.3 ms for deflate at level 6 and 1.4
// for the Adler-32), not measured as a whole: two goroutines' wall time
// on this shared host varied more than the choice changes it.
const headShare = 0.77

// headBatch is how many rows the first goroutine hands the second at a
// time.
const headBatch = 32

// pack inflates deflated (p's image data after its zlib header), rows of
// a filter byte and stride bytes of pixels, and returns p with the same
// pixels refiltered and deflated again as its image data, in one IDAT
// chunk.
//
// The new stream is deflated in two parts at once, on two goroutines: the
// head (the first rows, see headShare), which ends with a sync flush,
// and the tail, whose deflater starts from the head's last 32 KB so that
// it finds matches across the seam as one deflater would. Their
// Adler-32s are combined.
func (pk *packer) pack(p *pngFile, deflated [][]byte, stride, bpp int) ([]byte, error) {
	pk.inf.reset(deflated, stride+1)
	height := p.height
	split := 0
	if height >= 4*headBatch {
		split = int(float64(height) * headShare)
	}
	grow := func(b []byte, n int) []byte {
		if cap(b) < n {
			return make([]byte, n)
		}
		return b[:n]
	}
	pk.out = grow(pk.out, stride+1)
	pk.cur, pk.prev = grow(pk.cur, stride), grow(pk.prev, stride)
	out, cur, prev := pk.out, pk.cur, pk.prev

	// The head's rows go to its goroutine as they come. On an error it
	// is told to skip the rest, and waited for: it uses pk.
	defer pk.head.cancel()
	if split > 0 {
		pk.head.start(stride + 1)
		pk.dict = pk.dict[:0]
	} else {
		pk.tail.ResetDict(&pk.tailZ, nil)
	}
	pk.tailSum.Reset()

	clear(prev)       // the row above the first one is zeros
	filter := byte(2) // that of the row above: Sub (1) or Up (2)
	for y := range height {
		in, err := pk.inf.read(stride + 1)
		if err != nil {
			return nil, err
		}
		if err := unfilterRow(in[0], cur, in[1:], prev, bpp); err != nil {
			return nil, fmt.Errorf("row %d: %w", y, err)
		}
		// The filter that leaves fewer non-zero bytes (rather than
		// libpng's smallest sum of absolute values), counted eight bytes
		// at a time; and the filter of the row above unless the other
		// leaves under 3/4 as many, as runs of rows alike in filter
		// give deflate longer matches. On the perf page at level 6:
		// 1.065× Chromium's default size, against 1.077× without the
		// 3/4 and 1.077× for libpng's choice among all five filters
		// (Paeth and Average would cost several milliseconds more).
		var up int
		if in[0] == 2 {
			up = nonzeroBytes(in[1:]) // the same count, one load a word
		} else {
			up = diffBytes(cur, prev)
		}
		if up != 0 {
			sub := nonzeroBytes(cur[:bpp]) + diffBytes(cur[bpp:], cur[:len(cur)-bpp])
			if filter == 2 && 4*sub < 3*up {
				filter = 1
			} else if filter == 1 && 4*up < 3*sub {
				filter = 2
			}
		} else {
			filter = 2
		}
		row := in
		if filter == 1 {
			out[0] = 1
			copy(out[1:bpp+1], cur[:bpp])
			subBytes(out[bpp+1:], cur[bpp:], cur)
			row = out
		} else if in[0] != 2 {
			out[0] = 2
			subBytes(out[1:], cur, prev)
			row = out
		} // else the row came Up-filtered, as Chromium's do: in is it
		if y < split {
			pk.head.add(row)
			// The tail's deflater starts from the head's last 32 KB.
			if pk.dict = append(pk.dict, row...); len(pk.dict) >= 64<<10 {
				pk.dict = pk.dict[:copy(pk.dict, pk.dict[len(pk.dict)-32<<10:])]
			}
			if y+1 == split {
				pk.tail.ResetDict(&pk.tailZ, pk.dict[max(0, len(pk.dict)-32<<10):])
			}
		} else {
			pk.tailSum.Write(row)
			if _, err := pk.tail.Write(row); err != nil {
				return nil, err
			}
		}
		prev, cur = cur, prev
	}
	if err := pk.tail.Close(); err != nil {
		return nil, err
	}
	if err := pk.head.finish(); err != nil {
		return nil, err
	}
	sum := pk.tailSum.Sum32()
	if split > 0 {
		sum = adler32Combine(pk.head.sum.Sum32(), sum, (height-split)*(stride+1))
	}

	// The file: the chunks before the image data, one IDAT chunk (the
	// zlib header of level 6, the two parts, the Adler-32), the chunks
	// after.
	n := 2 + pk.head.z.Len() + pk.tailZ.Len() + 4
	file := make([]byte, 0, len(pngHeader)+len(p.before)+12+n+len(p.after))
	file = append(file, pngHeader...)
	file = append(file, p.before...)
	file = binary.BigEndian.AppendUint32(file, uint32(n))
	start := len(file)
	file = append(file, "IDAT\x78\x9c"...)
	file = append(file, pk.head.z.Bytes()...)
	file = append(file, pk.tailZ.Bytes()...)
	file = binary.BigEndian.AppendUint32(file, sum)
	file = binary.BigEndian.AppendUint32(file, crc32.ChecksumIEEE(file[start:]))
	return append(file, p.after...), nil
}

// adler32Combine returns the Adler-32 of a stream made of a part whose
// Adler-32 is a followed by one of length n whose Adler-32 is b (zlib's
// adler32_combine).
func adler32Combine(a, b uint32, n int) uint32 {
	const base = 65521
	rem := uint32(n % base)
	sum1 := a & 0xffff
	sum2 := rem * sum1 % base // both under base: no overflow
	sum1 += b&0xffff + base - 1
	sum2 += a>>16 + b>>16 + base - rem
	if sum1 >= base {
		sum1 -= base
	}
	if sum1 >= base {
		sum1 -= base
	}
	if sum2 >= 2*base {
		sum2 -= 2 * base
	}
	if sum2 >= base {
		sum2 -= base
	}
	return sum2<<16 | sum1
}

// pngFile is a PNG file split at its image data.
type pngFile struct {
	width, height int
	bitDepth      byte
	colorType     byte
	interlace     byte
	// before and after are the chunks around the image data, verbatim;
	// idat are the bodies of the IDAT chunks, whose concatenation is the
	// zlib stream of the image.
	before, after []byte
	idat          [][]byte
	idatSize      int // the bytes of idat together
}

var pngHeader = []byte("\x89PNG\r\n\x1a\n")

func parsePNG(data []byte) (*pngFile, error) {
	if !bytes.HasPrefix(data, pngHeader) {
		return nil, errors.New("pack png: not a PNG")
	}
	p := &pngFile{}
	seenIDAT := false
	for off := len(pngHeader); off < len(data); {
		if off+12 > len(data) {
			return nil, errors.New("pack png: truncated chunk")
		}
		n := int(binary.BigEndian.Uint32(data[off:]))
		end := off + 12 + n
		if n < 0 || end > len(data) || end < off {
			return nil, errors.New("pack png: truncated chunk")
		}
		typ, body, chunk := string(data[off+4:off+8]), data[off+8:off+8+n], data[off:end]
		switch {
		case typ == "IHDR":
			if n != 13 {
				return nil, errors.New("pack png: bad IHDR")
			}
			p.width, p.height = int(binary.BigEndian.Uint32(body)), int(binary.BigEndian.Uint32(body[4:]))
			p.bitDepth, p.colorType, p.interlace = body[8], body[9], body[12]
			p.before = append(p.before, chunk...)
		case typ == "IDAT":
			seenIDAT = true
			p.idat = append(p.idat, body)
			p.idatSize += len(body)
		case seenIDAT:
			p.after = append(p.after, chunk...)
		default:
			p.before = append(p.before, chunk...)
		}
		off = end
	}
	if !seenIDAT || p.width <= 0 || p.height <= 0 {
		return nil, errors.New("pack png: no image data")
	}
	return p, nil
}

// packable reports whether packPNG handles p: 8-bit RGB or RGBA, not
// interlaced, of a size that fits in memory.
func (p *pngFile) packable() bool {
	return p.bitDepth == 8 && (p.colorType == 2 || p.colorType == 6) && p.interlace == 0 &&
		int64(p.width)*int64(p.height) <= 1<<28
}

// unfilterRow undoes the filter f of one row: cur gets the pixels of
// the filtered bytes in, given prev, the pixels of the row above.
func unfilterRow(f byte, cur, in, prev []byte, bpp int) error {
	switch f {
	case 0:
		copy(cur, in)
	case 1:
		copy(cur[:bpp], in)
		for i := bpp; i < len(cur); i++ {
			cur[i] = in[i] + cur[i-bpp]
		}
	case 2:
		addBytes(cur, in, prev)
	case 3:
		for i := range cur {
			var a int
			if i >= bpp {
				a = int(cur[i-bpp])
			}
			cur[i] = in[i] + byte((a+int(prev[i]))/2)
		}
	case 4:
		for i := range cur {
			var a, c byte
			if i >= bpp {
				a, c = cur[i-bpp], prev[i-bpp]
			}
			cur[i] = in[i] + paeth(a, prev[i], c)
		}
	default:
		return fmt.Errorf("filter type %d", f)
	}
	return nil
}

// The byte-wise arithmetic below works on eight bytes at a time, in a
// uint64, keeping carries and borrows inside each byte.
const (
	lo7 = 0x7f7f7f7f7f7f7f7f
	hi1 = 0x8080808080808080
)

// addBytes sets dst[i] = a[i] + b[i] (mod 256) for every i of dst.
func addBytes(dst, a, b []byte) {
	a, b = a[:len(dst)], b[:len(dst)]
	i := 0
	for ; i+8 <= len(dst); i += 8 {
		x, y := binary.LittleEndian.Uint64(a[i:]), binary.LittleEndian.Uint64(b[i:])
		binary.LittleEndian.PutUint64(dst[i:], (x&lo7+y&lo7)^((x^y)&hi1))
	}
	for ; i < len(dst); i++ {
		dst[i] = a[i] + b[i]
	}
}

// subBytes sets dst[i] = a[i] - b[i] (mod 256) for every i of dst.
func subBytes(dst, a, b []byte) {
	a, b = a[:len(dst)], b[:len(dst)]
	i := 0
	for ; i+8 <= len(dst); i += 8 {
		x, y := binary.LittleEndian.Uint64(a[i:]), binary.LittleEndian.Uint64(b[i:])
		binary.LittleEndian.PutUint64(dst[i:], ((x|hi1)-(y&lo7))^((x^^y)&hi1))
	}
	for ; i < len(dst); i++ {
		dst[i] = a[i] - b[i]
	}
}

// diffBytes returns the number of i at which a[i] != b[i]; b is at least
// as long as a.
func diffBytes(a, b []byte) int {
	b = b[:len(a)]
	n := 0
	for len(a) >= 32 && len(b) >= 32 {
		v0 := binary.LittleEndian.Uint64(a) ^ binary.LittleEndian.Uint64(b)
		v1 := binary.LittleEndian.Uint64(a[8:]) ^ binary.LittleEndian.Uint64(b[8:])
		v2 := binary.LittleEndian.Uint64(a[16:]) ^ binary.LittleEndian.Uint64(b[16:])
		v3 := binary.LittleEndian.Uint64(a[24:]) ^ binary.LittleEndian.Uint64(b[24:])
		n += bits.OnesCount64(nonzeroMask(v0) | nonzeroMask(v1)>>1 | nonzeroMask(v2)>>2 | nonzeroMask(v3)>>3)
		a, b = a[32:], b[32:]
	}
	for i := range a {
		if a[i] != b[i] {
			n++
		}
	}
	return n
}

// nonzeroBytes returns the number of non-zero bytes of b.
func nonzeroBytes(b []byte) int {
	n := 0
	for len(b) >= 32 {
		v0, v1 := binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:])
		v2, v3 := binary.LittleEndian.Uint64(b[16:]), binary.LittleEndian.Uint64(b[24:])
		n += bits.OnesCount64(nonzeroMask(v0) | nonzeroMask(v1)>>1 | nonzeroMask(v2)>>2 | nonzeroMask(v3)>>3)
		b = b[32:]
	}
	for _, v := range b {
		if v != 0 {
			n++
		}
	}
	return n
}

// nonzeroMask has the top bit of each non-zero byte of v set, and no
// other: four of them shifted by 0 to 3 are counted in one OnesCount64.
func nonzeroMask(v uint64) uint64 { return (v&lo7 + lo7 | v) & hi1 }

// paeth is the PNG Paeth predictor.
func paeth(a, b, c byte) byte {
	pc := int(c)
	pa := int(b) - pc
	pb := int(a) - pc
	pc = pa + pb
	if pa < 0 {
		pa = -pa
	}
	if pb < 0 {
		pb = -pb
	}
	if pc < 0 {
		pc = -pc
	}
	if pa <= pb && pa <= pc {
		return a
	}
	if pb <= pc {
		return b
	}
	return c
}
