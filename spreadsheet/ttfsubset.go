package spreadsheet

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"sync"
)

// ttfFont is a TrueType font parsed once: its tables, the glyph of each
// rune of its Unicode cmap, and each glyph's metrics and outline. Subset
// builds, per letter, a small font of the glyphs the letter uses, which
// fpdf then reads in a fraction of the time and memory the whole font
// costs (the Chinese font holds tens of thousands of glyphs; a letter uses
// a few hundred). A ttfFont is read-only after parsing and safe for
// concurrent use.
type ttfFont struct {
	tables  map[string][]byte
	glyph   map[rune]uint16
	advance []uint16
	lsb     []int16
	outline [][]byte // glyf data of each glyph
}

// ttfTables copied into every subset as they are: names, metrics, and the
// hinting programs the glyphs' instructions call.
var ttfCopied = []string{"OS/2", "cvt ", "fpgm", "name", "prep"}

func parseTTF(b []byte) (*ttfFont, error) {
	if len(b) < 12 {
		return nil, fmt.Errorf("ttf: too short")
	}
	f := &ttfFont{tables: map[string][]byte{}, glyph: map[rune]uint16{}}
	n := int(binary.BigEndian.Uint16(b[4:]))
	for i := range n {
		rec := b[12+16*i:]
		tag := string(rec[:4])
		off, length := binary.BigEndian.Uint32(rec[8:]), binary.BigEndian.Uint32(rec[12:])
		if uint64(off)+uint64(length) > uint64(len(b)) {
			return nil, fmt.Errorf("ttf: table %q out of bounds", tag)
		}
		f.tables[tag] = b[off : off+length]
	}
	for _, t := range []string{"head", "hhea", "maxp", "hmtx", "loca", "glyf", "cmap", "post"} {
		if f.tables[t] == nil {
			return nil, fmt.Errorf("ttf: no %q table", t)
		}
	}
	u16 := binary.BigEndian.Uint16
	numGlyphs := int(u16(f.tables["maxp"][4:]))
	numMetrics := int(u16(f.tables["hhea"][34:]))
	hmtx := f.tables["hmtx"]
	f.advance, f.lsb = make([]uint16, numGlyphs), make([]int16, numGlyphs)
	for g := range numGlyphs {
		if g < numMetrics {
			f.advance[g], f.lsb[g] = u16(hmtx[4*g:]), int16(u16(hmtx[4*g+2:]))
		} else {
			f.advance[g], f.lsb[g] = f.advance[numMetrics-1], int16(u16(hmtx[4*numMetrics+2*(g-numMetrics):]))
		}
	}
	loca, glyf := f.tables["loca"], f.tables["glyf"]
	long := u16(f.tables["head"][50:]) == 1
	at := func(g int) int {
		if long {
			return int(binary.BigEndian.Uint32(loca[4*g:]))
		}
		return 2 * int(u16(loca[2*g:]))
	}
	f.outline = make([][]byte, numGlyphs)
	for g := range numGlyphs {
		from, to := at(g), at(g+1)
		if from > to || to > len(glyf) {
			return nil, fmt.Errorf("ttf: glyph %d out of bounds", g)
		}
		f.outline[g] = glyf[from:to]
	}
	// The Unicode cmap, format 4 (the Basic Multilingual Plane).
	cmap := f.tables["cmap"]
	var sub []byte
	for i := range int(u16(cmap[2:])) {
		rec := cmap[4+8*i:]
		platform, encoding, off := u16(rec), u16(rec[2:]), binary.BigEndian.Uint32(rec[4:])
		if (platform == 3 && encoding == 1 || platform == 0) && u16(cmap[off:]) == 4 {
			sub = cmap[off:]
			break
		}
	}
	if sub == nil {
		return nil, fmt.Errorf("ttf: no Unicode cmap of format 4")
	}
	segs := int(u16(sub[6:])) / 2
	ends, starts := sub[14:], sub[16+2*segs:]
	deltas, offsets := sub[16+4*segs:], sub[16+6*segs:]
	for s := range segs {
		start, end := int(u16(starts[2*s:])), int(u16(ends[2*s:]))
		delta, ro := int(u16(deltas[2*s:])), int(u16(offsets[2*s:]))
		for c := start; c <= end && c != 0xFFFF; c++ {
			g := 0
			if ro == 0 {
				g = (c + delta) & 0xFFFF
			} else if p := 2*s + ro + 2*(c-start); p+2 <= len(offsets) {
				if g = int(u16(offsets[p:])); g != 0 {
					g = (g + delta) & 0xFFFF
				}
			}
			if g != 0 && g < numGlyphs {
				f.glyph[rune(c)] = uint16(g)
			}
		}
	}
	return f, nil
}

// Has reports whether the font has a glyph for r.
func (f *ttfFont) Has(r rune) bool { _, ok := f.glyph[r]; return ok }

// Subset returns a TrueType font of the glyphs of runes (those the font
// has), .notdef and the components of composite glyphs, renumbered, with a
// format 4 cmap of those runes.
func (f *ttfFont) Subset(runes []rune) []byte {
	u16 := binary.BigEndian.Uint16
	old := []int{0}
	newID := map[int]int{0: 0}
	add := func(g int) {
		if _, ok := newID[g]; !ok {
			newID[g] = len(old)
			old = append(old, g)
		}
	}
	rs := slices.Clone(runes)
	slices.Sort(rs)
	rs = slices.Compact(rs)
	var mapped []rune
	for _, r := range rs {
		if g, ok := f.glyph[r]; ok && r <= 0xFFFF {
			add(int(g))
			mapped = append(mapped, r)
		}
	}
	// Components of composite glyphs, transitively (old grows as they
	// are found).
	for i := 0; i < len(old); i++ {
		o := f.outline[old[i]]
		if len(o) < 10 || int16(u16(o)) >= 0 {
			continue
		}
		for p := 10; p+4 <= len(o); {
			flags := u16(o[p:])
			add(int(u16(o[p+2:])))
			p += 4 + compositeArgs(flags)
			if flags&0x20 == 0 {
				break
			}
		}
	}
	n := len(old)
	var glyf []byte
	loca := make([]byte, 4*(n+1))
	hmtx := make([]byte, 4*n)
	for i, g := range old {
		binary.BigEndian.PutUint32(loca[4*i:], uint32(len(glyf)))
		binary.BigEndian.PutUint16(hmtx[4*i:], f.advance[g])
		binary.BigEndian.PutUint16(hmtx[4*i+2:], uint16(f.lsb[g]))
		o := f.outline[g]
		start := len(glyf)
		glyf = append(glyf, o...)
		if len(o) >= 10 && int16(u16(o)) < 0 {
			for p := 10; p+4 <= len(o); {
				flags := u16(o[p:])
				binary.BigEndian.PutUint16(glyf[start+p+2:], uint16(newID[int(u16(o[p+2:]))]))
				p += 4 + compositeArgs(flags)
				if flags&0x20 == 0 {
					break
				}
			}
		}
		for len(glyf)%4 != 0 {
			glyf = append(glyf, 0)
		}
	}
	binary.BigEndian.PutUint32(loca[4*n:], uint32(len(glyf)))

	head := slices.Clone(f.tables["head"])
	binary.BigEndian.PutUint32(head[8:], 0)  // checkSumAdjustment, set below
	binary.BigEndian.PutUint16(head[50:], 1) // long loca
	maxp := slices.Clone(f.tables["maxp"])
	binary.BigEndian.PutUint16(maxp[4:], uint16(n))
	hhea := slices.Clone(f.tables["hhea"])
	binary.BigEndian.PutUint16(hhea[34:], uint16(n))
	post := slices.Clone(f.tables["post"][:32])
	binary.BigEndian.PutUint32(post, 0x00030000) // no glyph names

	tables := map[string][]byte{"head": head, "maxp": maxp, "hhea": hhea, "hmtx": hmtx, "loca": loca, "glyf": glyf,
		"post": post, "cmap": cmap4(mapped, func(r rune) int { return newID[int(f.glyph[r])] })}
	for _, t := range ttfCopied {
		if b := f.tables[t]; b != nil {
			tables[t] = b
		}
	}
	return writeTTF(tables)
}

// compositeArgs is how many bytes follow a composite glyph component's
// flags and glyph index: its two arguments and its transformation.
func compositeArgs(flags uint16) int {
	n := 2
	if flags&0x1 != 0 {
		n = 4
	}
	switch {
	case flags&0x8 != 0:
		n += 2
	case flags&0x40 != 0:
		n += 4
	case flags&0x80 != 0:
		n += 8
	}
	return n
}

// cmap4 writes a cmap table with one (3, 1) subtable of format 4 mapping
// runes (ascending, in the BMP) to glyphs: one segment per run of
// consecutive runes with consecutive glyphs, and the final 0xFFFF one.
func cmap4(runes []rune, glyph func(rune) int) []byte {
	type seg struct{ start, end, delta int }
	var segs []seg
	for _, r := range runes {
		g := glyph(r)
		if k := len(segs) - 1; k >= 0 && segs[k].end == int(r)-1 && segs[k].start+segs[k].delta+int(r)-segs[k].start == g {
			segs[k].end = int(r)
			continue
		}
		segs = append(segs, seg{int(r), int(r), g - int(r)})
	}
	segs = append(segs, seg{0xFFFF, 0xFFFF, 1})
	n := len(segs)
	sub := make([]byte, 16+8*n)
	be := binary.BigEndian
	be.PutUint16(sub[0:], 4)
	be.PutUint16(sub[2:], uint16(len(sub)))
	be.PutUint16(sub[6:], uint16(2*n))
	sr := 2
	for sr*2 <= 2*n {
		sr *= 2
	}
	es := 0
	for 1<<(es+1) <= n {
		es++
	}
	be.PutUint16(sub[8:], uint16(sr))
	be.PutUint16(sub[10:], uint16(es))
	be.PutUint16(sub[12:], uint16(2*n-sr))
	for i, s := range segs {
		be.PutUint16(sub[14+2*i:], uint16(s.end))
		be.PutUint16(sub[16+2*n+2*i:], uint16(s.start))
		be.PutUint16(sub[16+4*n+2*i:], uint16(s.delta))
		// idRangeOffset stays 0.
	}
	out := make([]byte, 12, 12+len(sub))
	be.PutUint16(out[2:], 1)
	be.PutUint16(out[4:], 3)
	be.PutUint16(out[6:], 1)
	be.PutUint32(out[8:], 12)
	return append(out, sub...)
}

// writeTTF lays tables out as a TrueType file, each 4-byte aligned with
// its checksum, and sets head's checkSumAdjustment.
func writeTTF(tables map[string][]byte) []byte {
	tags := make([]string, 0, len(tables))
	for t := range tables {
		tags = append(tags, t)
	}
	sort.Strings(tags)
	be := binary.BigEndian
	n := len(tags)
	out := make([]byte, 12+16*n)
	be.PutUint32(out, 0x00010000)
	be.PutUint16(out[4:], uint16(n))
	sr, es := 1, 0
	for sr*2 <= n {
		sr, es = sr*2, es+1
	}
	be.PutUint16(out[6:], uint16(16*sr))
	be.PutUint16(out[8:], uint16(es))
	be.PutUint16(out[10:], uint16(16*(n-sr)))
	headAt := 0
	for i, t := range tags {
		b := tables[t]
		rec := out[12+16*i:]
		copy(rec, t)
		be.PutUint32(rec[4:], checksum(b))
		be.PutUint32(rec[8:], uint32(len(out)))
		be.PutUint32(rec[12:], uint32(len(b)))
		if t == "head" {
			headAt = len(out)
		}
		out = append(out, b...)
		for len(out)%4 != 0 {
			out = append(out, 0)
		}
	}
	be.PutUint32(out[headAt+8:], 0xB1B0AFBA-checksum(out))
	return out
}

func checksum(b []byte) uint32 {
	var sum uint32
	for i := 0; i < len(b); i += 4 {
		var w [4]byte
		copy(w[:], b[i:min(i+4, len(b))])
		sum += binary.BigEndian.Uint32(w[:])
	}
	return sum
}

// The letter's fonts, parsed on first use and kept.
var (
	letterFontsOnce  sync.Once
	latinTTF, cjkTTF *ttfFont
	errLetterFonts   error
)

func letterFonts() (*ttfFont, *ttfFont, error) {
	letterFontsOnce.Do(func() {
		if latinTTF, errLetterFonts = parseTTF(latinFont); errLetterFonts != nil {
			return
		}
		cjkTTF, errLetterFonts = parseTTF(cjkFont)
	})
	return latinTTF, cjkTTF, errLetterFonts
}
