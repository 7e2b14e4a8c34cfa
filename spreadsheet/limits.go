package spreadsheet

import (
	"bytes"
	"fmt"
	"io"
)

// Limits bound what reading one uploaded file may unpack and keep, so a
// small hostile file (a ZIP bomb, a cell of a billion spaces, a sheet that
// claims a million columns) is refused early instead of filling the memory.
// Every import reads with DefaultLimits.
type Limits struct {
	// MaxParts is the most entries the XLSX (ZIP) archive may list.
	MaxParts int
	// MaxPartBytes is the most bytes one worksheet or the shared strings
	// part may unpack to. Parts an import does not need (pictures,
	// styles, other sheets) are never unpacked, whatever their size.
	MaxPartBytes int64
	// MaxSmallPartBytes is the most bytes the workbook's list of sheets and
	// its relationships may unpack to.
	MaxSmallPartBytes int64
	// MaxTotalBytes is the most bytes all the parts read may unpack to.
	MaxTotalBytes int64
	// MaxSharedStrings and MaxSharedStringBytes bound the workbook's table
	// of shared strings: how many, and their text in all.
	MaxSharedStrings     int
	MaxSharedStringBytes int64
	// MaxCellChars is the most characters one cell (or one CSV field) may
	// hold; Excel's own limit is 32,767.
	MaxCellChars int
	// MaxColumns is the widest column that may hold a value (256 is IV).
	MaxColumns int
	// MaxCells bounds rows × columns of a sheet's used range: the last row
	// holding a value times the widest column holding one.
	MaxCells int64
	// MaxRecordBytes is the most bytes one CSV record (a line, or several
	// lines of one quoted field) may take.
	MaxRecordBytes int
}

// DefaultLimits are the limits of every import.
var DefaultLimits = Limits{
	MaxParts:             1000,
	MaxPartBytes:         256 << 20,
	MaxSmallPartBytes:    4 << 20,
	MaxTotalBytes:        512 << 20,
	MaxSharedStrings:     500_000,
	MaxSharedStringBytes: 16 << 20,
	MaxCellChars:         32_767,
	MaxColumns:           256,
	MaxCells:             3_000_000,
	MaxRecordBytes:       1 << 20,
}

// maxTokenBytes bounds the bytes between two '<' of an XML part: one cell's
// text, or one tag with its attributes. A cell of MaxCellChars characters
// written as character references (&#x10FFFF;) fits.
func (l Limits) maxTokenBytes() int { return l.MaxCellChars*10 + 4096 }

// maxDepth bounds how deeply the elements of an XML part nest; SpreadsheetML
// needs fewer than ten levels.
const maxDepth = 32

// LimitError says a file exceeds one of the Limits: which (Limit, the name
// of the Limits field in snake case), its value and unit, and where.
type LimitError struct {
	Limit string
	Max   int64
	Unit  string
	Where string
}

func (e *LimitError) Error() string {
	s := fmt.Sprintf("the file exceeds the limit %s of %d %s", e.Limit, e.Max, e.Unit)
	if e.Where != "" {
		s += " (" + e.Where + ")"
	}
	return s
}

func limitErr(limit string, max int64, unit, where string, args ...any) *LimitError {
	return &LimitError{Limit: limit, Max: max, Unit: unit, Where: fmt.Sprintf(where, args...)}
}

// xmlGuard reads an XML part for encoding/xml and refuses, before the
// decoder buffers it, anything that would make one token or the part too
// large: more than the part's budget in all, more than maxTokenBytes between
// two '<' (text and attribute values cannot hold a '<', so this bounds every
// token), and any "<!" (DTDs, entity declarations, comments and CDATA,
// which spreadsheet programs do not write and which could hide a long
// token).
type xmlGuard struct {
	r        io.Reader
	part     string
	n, max   int64
	total    *int64
	maxTotal int64
	run      int
	maxRun   int
	lt       bool
	err      error
}

func (g *xmlGuard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.r.Read(p)
	for i := 0; i < n; i++ {
		b := p[i]
		if g.lt && b == '!' {
			g.err = fmt.Errorf("the part %s holds a DTD, comment or CDATA section, which spreadsheet programs do not write", g.part)
			return 0, g.err
		}
		g.lt = b == '<'
		if g.lt {
			g.run = 0
		} else if g.run++; g.run > g.maxRun {
			g.err = limitErr("max_cell_chars", int64(g.maxRun), "bytes of text or markup in one cell or tag", "in %s", g.part)
			return 0, g.err
		}
	}
	g.n += int64(n)
	*g.total += int64(n)
	switch {
	case g.n > g.max:
		g.err = limitErr("max_part_bytes", g.max, "bytes unpacked", "the part %s", g.part)
	case *g.total > g.maxTotal:
		g.err = limitErr("max_total_bytes", g.maxTotal, "bytes unpacked", "reading %s", g.part)
	}
	if g.err != nil {
		return 0, g.err
	}
	return n, err
}

// recordGuard reads CSV text and refuses a record longer than max bytes
// before encoding/csv buffers it: it counts the bytes since the last line
// end outside quotes.
type recordGuard struct {
	r      io.Reader
	run    int
	max    int
	quoted bool
	line   int
	err    error
}

func (g *recordGuard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.r.Read(p)
	for i := 0; i < n; i++ {
		switch p[i] {
		case '"':
			g.quoted = !g.quoted
		case '\n':
			g.line++
			if !g.quoted {
				g.run = 0
				continue
			}
		}
		if g.run++; g.run > g.max {
			g.err = limitErr("max_record_bytes", int64(g.max), "bytes in one CSV record", "the record ending after line %d", g.line+1)
			return 0, g.err
		}
	}
	return n, err
}

// zipEntries reads how many entries a ZIP archive's end of central
// directory declares, without reading the directory itself, so an archive
// listing millions of (empty) entries is refused before archive/zip
// allocates one record for each. ok is false when no end record is found.
func zipEntries(data []byte) (n uint64, ok bool) {
	const eocdLen, maxComment = 22, 65535
	start := max(0, len(data)-eocdLen-maxComment)
	i := bytes.LastIndex(data[start:], []byte("PK\x05\x06"))
	if i < 0 || start+i+eocdLen > len(data) {
		return 0, false
	}
	eocd := data[start+i:]
	n = uint64(eocd[10]) | uint64(eocd[11])<<8
	if n != 0xFFFF {
		return n, true
	}
	// ZIP64: the locator just before points at the ZIP64 end record.
	loc := start + i - 20
	if loc < 0 || !bytes.HasPrefix(data[loc:], []byte("PK\x06\x07")) {
		return n, true
	}
	off := le64(data[loc+8:])
	if len(data) < 56 || off > uint64(len(data)-56) || !bytes.HasPrefix(data[off:], []byte("PK\x06\x06")) {
		return 0, false
	}
	return le64(data[off+32:]), true
}

func le64(b []byte) uint64 {
	var v uint64
	for i := 7; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}
