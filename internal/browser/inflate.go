package browser

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"sync"
)

// inflater decodes a raw deflate stream (RFC 1951) held in memory, in
// chunks (a PNG's IDAT chunks, read where they are), for packPNG. It
// takes 0.55 to 0.85 of the time klauspost/compress's reader does on
// Chromium's fast PNG streams (BenchmarkInflate, on a host whose load
// varied), which are mostly short matches a few pixels back: it decodes
// straight into a buffer of its own (no ring to copy out of), refills its
// bits eight bytes at a time, looks most codes up in one table read, and
// copies matches a word at a time where they do not overlap.
//
// What read returns stays valid until the next call; the buffer keeps
// the last 32 KB before the unread bytes for back-references, so what
// it holds does not grow with the stream.
type inflater struct {
	in      []byte   // the chunk being read
	rest    [][]byte // the chunks after it
	pos     int      // the next byte of in to load into acc
	phantom int      // zero bytes loaded past the stream's end
	acc     uint64   // bits loaded and not consumed, the next one lowest
	nacc    uint     // how many
	out     []byte   // decoded bytes: out[r:w] not yet read, and history before r
	r, w    int
	span    int // decoding stops once w reaches it: out has room for one more match past it
	maxRead int
	state   int // what the stream is in: between blocks, in a stored block, in a coded one, done
	last    bool
	store   int   // bytes of the stored block left to copy
	err     error // where decoding stopped, after the bytes before it

	lit, dist       *huffTable // the coded block's codes: the fixed ones, or dynLit and dynDist
	dynLit, dynDist huffTable  // a dynamic block's codes
	clen            huffTable  // a dynamic block's code length code
	lens            [maxLitCodes + maxDistCodes]uint8
}

const (
	maxLitCodes   = 288
	maxDistCodes  = 32
	deflateWindow = 32 << 10
	maxMatch      = 258
	// outSlack is the room beyond span: a whole match, and the word
	// copy's overrun.
	outSlack = maxMatch + 8
	// outSpan is how much the buffer decodes between slides, at least:
	// each slide copies the 32 KB of history back, so 256 KB costs an
	// eighth of a byte copied per byte decoded, in a buffer that stays
	// in a core's L2 cache.
	outSpan = 256 << 10
)

const (
	stateHeader = iota // a block header is next
	stateStored
	stateCoded
	stateDone // the last block ended
)

var (
	errCorrupt   = errors.New("inflate: corrupt stream")
	errStreamEnd = errors.New("inflate: the stream ended") // before the bytes asked for
)

// reset starts decoding the stream that chunks make one after the other,
// handing out reads of up to maxRead bytes.
func (f *inflater) reset(chunks [][]byte, maxRead int) {
	f.in, f.rest, f.pos, f.phantom, f.acc, f.nacc = nil, chunks, 0, 0, 0, 0
	f.r, f.w, f.maxRead, f.state, f.last, f.store, f.err = 0, 0, maxRead, stateHeader, false, 0, nil
	size := deflateWindow + max(outSpan, 4*maxRead)
	if cap(f.out) < size+outSlack {
		f.out = make([]byte, size+outSlack)
	}
	f.out = f.out[:size+outSlack]
	f.span = size
}

// release drops the references to the stream and, when it grew past
// keep, the buffer.
func (f *inflater) release(keep int) {
	f.in, f.rest = nil, nil
	if cap(f.out) > keep {
		f.out = nil
	}
}

// read returns the next n bytes of the decoded stream (n no more than
// reset's maxRead).
func (f *inflater) read(n int) ([]byte, error) {
	if n > f.maxRead {
		return nil, fmt.Errorf("inflate: a read of %d bytes, more than %d", n, f.maxRead)
	}
	for f.w-f.r < n {
		if f.err != nil {
			return nil, f.err
		}
		if f.state == stateDone {
			return nil, errStreamEnd
		}
		f.slide()
		// What was decoded before an error is still handed out.
		f.err = f.decode()
	}
	b := f.out[f.r : f.r+n]
	f.r += n
	return b, nil
}

// slide makes room when the buffer is full: it keeps the unread bytes
// and the 32 KB before them.
func (f *inflater) slide() {
	if f.w < f.span {
		return
	}
	keep := max(0, min(f.r, f.w-deflateWindow))
	copy(f.out, f.out[keep:f.w])
	f.r -= keep
	f.w -= keep
}

// refill loads bits until at least 56 are held: eight bytes at once
// inside a chunk; byte by byte across a chunk's end, and past the
// stream's end, where it loads zeros and counts them.
func (f *inflater) refill() {
	if f.pos+8 <= len(f.in) {
		f.acc |= binary.LittleEndian.Uint64(f.in[f.pos:]) << f.nacc
		f.pos += int(63-f.nacc) >> 3
		f.nacc |= 56
		return
	}
	for f.nacc <= 56 {
		if f.nextChunk() {
			f.acc |= uint64(f.in[f.pos]) << f.nacc
			f.pos++
		} else {
			f.phantom++
		}
		f.nacc += 8
	}
}

// nextChunk makes sure that in[pos] is the stream's next byte, moving on
// to the next chunk that has one; false at the stream's end.
func (f *inflater) nextChunk() bool {
	for f.pos >= len(f.in) {
		if len(f.rest) == 0 {
			return false
		}
		f.in, f.rest, f.pos = f.rest[0], f.rest[1:], 0
	}
	return true
}

// overrun reports whether more bits were consumed than the stream has.
func (f *inflater) overrun() bool { return f.overrunAt(f.nacc) }

// overrunAt reports whether, with nacc bits left, more bits were
// consumed than the stream has: the zeros loaded past its end are the
// last bits held.
func (f *inflater) overrunAt(nacc uint) bool { return f.phantom*8 > int(nacc) }

// take consumes n bits (n ≤ 32, with at least n loaded) and returns them.
func (f *inflater) take(n uint) uint32 {
	v := uint32(f.acc & (1<<n - 1))
	f.acc >>= n
	f.nacc -= n
	return v
}

// decode decodes until w reaches span or the stream ends.
func (f *inflater) decode() error {
	for f.w < f.span {
		switch f.state {
		case stateDone:
			return nil
		case stateHeader:
			if err := f.header(); err != nil {
				return err
			}
		case stateStored:
			if err := f.stored(); err != nil {
				return err
			}
		case stateCoded:
			if err := f.coded(); err != nil {
				return err
			}
		}
	}
	return nil
}

// header reads a block's header, and the code lengths of a dynamic one.
func (f *inflater) header() error {
	f.refill()
	f.last = f.take(1) == 1
	switch f.take(2) {
	case 0:
		f.take(f.nacc & 7) // to a byte boundary
		f.refill()
		n, nn := f.take(16), f.take(16)
		if f.overrun() || n != ^nn&0xffff {
			return errCorrupt
		}
		f.store, f.state = int(n), stateStored
		return nil
	case 1:
		fixedOnce.Do(buildFixed)
		f.lit, f.dist = &fixedLit, &fixedDist // shared: never built again
	case 2:
		if err := f.dynamic(); err != nil {
			return err
		}
	default:
		return errCorrupt
	}
	f.state = stateCoded
	return nil
}

// endBlock moves on after a stored block.
func (f *inflater) endBlock() error {
	if f.overrun() {
		return errCorrupt
	}
	f.blockEnded()
	return nil
}

// blockEnded moves on to the next block's header, or to the end after
// the last block.
func (f *inflater) blockEnded() {
	f.state = stateHeader
	if f.last {
		f.state = stateDone
	}
}

// stored copies a stored block's bytes, as far as span.
func (f *inflater) stored() error {
	for f.store > 0 && f.w < f.span {
		if f.nacc >= 8 { // whole bytes still in acc
			if f.overrunAt(f.nacc - 8) {
				return errCorrupt // the next byte in acc is past the stream's end
			}
			f.out[f.w] = byte(f.take(8))
			f.w++
			f.store--
			continue
		}
		// acc is empty, but refill may have left bits of the byte at
		// pos above nacc: they would be stale after the copy.
		f.acc = 0
		if !f.nextChunk() {
			return errCorrupt
		}
		n := min(f.store, f.span-f.w, len(f.in)-f.pos)
		copy(f.out[f.w:], f.in[f.pos:f.pos+n])
		f.pos += n
		f.w += n
		f.store -= n
	}
	if f.store == 0 {
		return f.endBlock()
	}
	return nil
}

// clOrder is the order of the code length code's lengths.
var clOrder = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

// dynamic reads a dynamic block's codes.
func (f *inflater) dynamic() error {
	f.refill()
	nlit, ndist, nclen := int(f.take(5))+257, int(f.take(5))+1, int(f.take(4))+4
	if nlit > 286 || ndist > 30 {
		return errCorrupt
	}
	var clens [19]uint8
	for i := range nclen {
		f.refill()
		clens[clOrder[i]] = uint8(f.take(3))
	}
	cl := &f.clen
	if !cl.buildCodeLengths(clens[:]) {
		return errCorrupt
	}
	lens := f.lens[:nlit+ndist]
	for i := 0; i < len(lens); {
		f.refill()
		e := cl.entries[f.acc&(1<<clBits-1)]
		if e.kind() != huffLit {
			return errCorrupt
		}
		f.take(e.bits())
		sym := e.value()
		rep, val := 1, uint8(sym)
		switch {
		case sym == 16:
			if i == 0 {
				return errCorrupt
			}
			rep, val = 3+int(f.take(2)), lens[i-1]
		case sym == 17:
			rep, val = 3+int(f.take(3)), 0
		case sym == 18:
			rep, val = 11+int(f.take(7)), 0
		}
		if i+rep > len(lens) {
			return errCorrupt
		}
		for j := range rep {
			lens[i+j] = val
		}
		i += rep
	}
	if f.overrun() || lens[256] == 0 {
		return errCorrupt
	}
	if !f.dynLit.buildLit(lens[:nlit]) || !f.dynDist.buildDist(lens[nlit:]) {
		return errCorrupt
	}
	f.lit, f.dist = &f.dynLit, &f.dynDist
	return nil
}

// coded decodes a Huffman-coded block's symbols, as far as span. The
// bit reader's state is kept in locals here, where the time goes.
func (f *inflater) coded() error {
	out, w, span := f.out, f.w, f.span
	in, pos, acc, nacc := f.in, f.pos, f.acc, f.nacc
	lit, dist := f.lit.entries, f.dist.entries
	// ending is set once zeros have been loaded past the stream's end:
	// from then on each symbol is checked to be made of real bits before
	// it writes anything.
	ending := f.phantom > 0
	var err error
symbols:
	for w < span {
		// A symbol takes at most 15+5 bits and its distance 15+13.
		if nacc < 48 {
			if pos+8 <= len(in) {
				acc |= binary.LittleEndian.Uint64(in[pos:]) << nacc
				pos += int(63-nacc) >> 3
				nacc |= 56
			} else {
				f.pos, f.acc, f.nacc = pos, acc, nacc
				f.refill()
				in, pos, acc, nacc = f.in, f.pos, f.acc, f.nacc
				ending = f.phantom > 0
			}
		}
		e := lit[acc&litMask]
		if e.kind() == huffSub {
			acc >>= litBits
			nacc -= litBits
			e = lit[e.value()+uint32(acc&(1<<e.extra()-1))]
		}
		n := e.bits()
		acc >>= n
		nacc -= n
		if ending && f.overrunAt(nacc) {
			err = errCorrupt
			break symbols
		}
		switch e.kind() {
		case huffLit:
			out[w] = byte(e.value())
			w++
			continue
		case huffLen:
		case huffEnd:
			f.blockEnded()
			break symbols
		default:
			err = errCorrupt
			break symbols
		}
		x := e.extra()
		length := int(e.value() + uint32(acc&(1<<x-1)))
		acc >>= x
		nacc -= x
		d := dist[acc&distMask]
		if d.kind() == huffSub {
			acc >>= distBits
			nacc -= distBits
			d = dist[d.value()+uint32(acc&(1<<d.extra()-1))]
		}
		n = d.bits()
		acc >>= n
		nacc -= n
		x = d.extra()
		off := int(d.value() + uint32(acc&(1<<x-1)))
		acc >>= x
		nacc -= x
		if d.kind() != huffLen || off > w || ending && f.overrunAt(nacc) {
			err = errCorrupt
			break symbols
		}
		copyMatch(out, w, off, length)
		w += length
	}
	f.w, f.pos, f.acc, f.nacc = w, pos, acc, nacc
	if err == nil && f.overrun() {
		err = errCorrupt
	}
	return err
}

// copyMatch copies length bytes from off bytes back to out[w:], as
// deflate means it (a copy that overlaps itself repeats its first off
// bytes). It may write up to 7 bytes past the match.
func copyMatch(out []byte, w, off, length int) {
	step := off // words are read this far back
	if off < 8 {
		if off == 1 {
			v := uint64(out[w-1]) * 0x0101010101010101
			for i := 0; i < length; i += 8 {
				binary.LittleEndian.PutUint64(out[w+i:], v)
			}
			return
		}
		// Bytes one at a time until a whole number of periods of at
		// least 8 bytes is written; then words from that far back,
		// which repeat the same period.
		step = periods[off]
		n := min(length, step)
		for i := range n {
			out[w+i] = out[w+i-off]
		}
		if n == length {
			return
		}
		w, length = w+n, length-n
	}
	for i := 0; i < length; i += 8 {
		binary.LittleEndian.PutUint64(out[w+i:], binary.LittleEndian.Uint64(out[w+i-step:]))
	}
}

// periods[off] is the least multiple of off from 8 on.
var periods = [8]int{2: 8, 3: 9, 4: 8, 5: 10, 6: 12, 7: 14}

// A huffEntry is what a table gives for the bits it is indexed by: how
// many of them the code takes, what kind of symbol it is, and its value
// (a literal byte, a length's or distance's base, or where a subtable
// starts) with its extra bits (of a length or distance; of a subtable,
// how many bits index it).
type huffEntry uint32

const (
	huffBad = iota // no code starts with these bits
	huffLit        // a literal, or a code length code's symbol
	huffLen        // a length, or in a distance table a distance
	huffEnd        // end of block
	huffSub        // look further in a subtable
)

// entry is a table entry without its code's length, which withBits
// sets.
func entry(kind, extra, value uint32) huffEntry {
	return huffEntry(kind<<4 | extra<<8 | value<<16)
}
func (e huffEntry) bits() uint                { return uint(e & 0xf) }
func (e huffEntry) kind() uint32              { return uint32(e>>4) & 0xf }
func (e huffEntry) extra() uint               { return uint(e>>8) & 0xff }
func (e huffEntry) value() uint32             { return uint32(e >> 16) }
func (e huffEntry) withBits(n uint) huffEntry { return e&^0xf | huffEntry(n) }

// The primary tables' sizes: most codes are shorter. Longer ones go on
// in subtables.
const (
	litBits  = 10
	litMask  = 1<<litBits - 1
	distBits = 8
	distMask = 1<<distBits - 1
	clBits   = 7 // the longest code length code
)

type huffTable struct{ entries []huffEntry }

var (
	lenBase   = [29]uint32{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lenExtra  = [29]uint32{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase  = [30]uint32{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra = [30]uint32{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
)

// buildLit builds the literal/length table from its code lengths.
func (t *huffTable) buildLit(lens []uint8) bool {
	return t.buildWith(lens, litBits, true, func(sym int) huffEntry {
		switch {
		case sym < 256:
			return entry(huffLit, 0, uint32(sym))
		case sym == 256:
			return entry(huffEnd, 0, 0)
		case sym < 286:
			return entry(huffLen, lenExtra[sym-257], lenBase[sym-257])
		}
		return entry(huffBad, 0, 0) // 286 and 287 have codes but mean nothing
	})
}

// buildDist builds the distance table from its code lengths.
func (t *huffTable) buildDist(lens []uint8) bool {
	return t.buildWith(lens, distBits, true, func(sym int) huffEntry {
		if sym < 30 {
			return entry(huffLen, distExtra[sym], distBase[sym])
		}
		return entry(huffBad, 0, 0)
	})
}

// buildCodeLengths builds the code length code's table, of one level:
// its codes are of 7 bits at most, and its symbols their own values.
func (t *huffTable) buildCodeLengths(lens []uint8) bool {
	return t.buildWith(lens, clBits, false, func(sym int) huffEntry { return entry(huffLit, 0, uint32(sym)) })
}

// buildWith builds the canonical code of lens (RFC 1951 3.2.2), with a
// primary table indexed by tableBits bits and a subtable for every
// longer code's first tableBits bits. Bits that start no code map to
// huffBad. It reports false, as zlib does, for lengths that over-subscribe
// the code space or leave part of it unused: a damaged stream. The
// exceptions are no code at all, and, where single is set, one code of
// one bit.
func (t *huffTable) buildWith(lens []uint8, tableBits uint, single bool, sym func(int) huffEntry) bool {
	var count [16]int
	for _, l := range lens {
		count[l]++
	}
	count[0] = 0
	var next [16]uint32
	code, left, total := uint32(0), 1, 0
	for l := 1; l < 16; l++ {
		code = (code + uint32(count[l-1])) << 1
		next[l] = code
		left = left<<1 - count[l]
		total += count[l]
		if left < 0 {
			return false
		}
	}
	if left > 0 && total > 0 && !(single && total == 1 && count[1] == 1) {
		return false
	}
	// How long each long code's subtable must be: indexed by the code's
	// first tableBits bits, as many bits as its longest code has beyond.
	var sub [1 << litBits]uint8
	primary := 1 << tableBits
	codes := next
	for _, l := range lens {
		if uint(l) > tableBits {
			c := codes[l]
			codes[l]++
			p := reverse(c>>(uint(l)-tableBits), tableBits)
			sub[p] = max(sub[p], l-uint8(tableBits))
		}
	}
	size := primary
	for p := range primary {
		if sub[p] > 0 {
			size += 1 << sub[p]
		}
	}
	if cap(t.entries) < size {
		t.entries = make([]huffEntry, size)
	}
	t.entries = t.entries[:size]
	clear(t.entries)
	at := primary
	for p := range primary {
		if sub[p] > 0 {
			t.entries[p] = entry(huffSub, uint32(sub[p]), uint32(at))
			at += 1 << sub[p]
		}
	}
	for s, l := range lens {
		if l == 0 {
			continue
		}
		n := uint(l)
		c := reverse(next[l], n)
		next[l]++
		e := sym(s).withBits(n)
		if n <= tableBits {
			for i := c; i < uint32(primary); i += 1 << n {
				t.entries[i] = e
			}
			continue
		}
		head := t.entries[c&(1<<tableBits-1)]
		subBits := head.extra()
		rest := n - tableBits
		e = e.withBits(rest)
		for i := c >> tableBits; i < 1<<subBits; i += 1 << rest {
			t.entries[head.value()+i] = e
		}
	}
	return true
}

// reverse returns the low n bits of c in the opposite order: deflate
// sends codes from their first bit, which the tables index lowest.
func reverse(c uint32, n uint) uint32 {
	return bits.Reverse32(c) >> (32 - n)
}

// The fixed codes of block type 1.
var (
	fixedOnce           sync.Once
	fixedLit, fixedDist huffTable
)

func buildFixed() {
	var lens [maxLitCodes]uint8
	for i := range lens {
		switch {
		case i < 144:
			lens[i] = 8
		case i < 256:
			lens[i] = 9
		case i < 280:
			lens[i] = 7
		default:
			lens[i] = 8
		}
	}
	// The fixed distance code has 32 codes of 5 bits; 30 and 31 never
	// occur in a valid stream.
	var d [maxDistCodes]uint8
	for i := range d {
		d[i] = 5
	}
	if !fixedLit.buildLit(lens[:]) || !fixedDist.buildDist(d[:]) {
		panic("inflate: the fixed codes do not build")
	}
}
