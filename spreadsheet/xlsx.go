package spreadsheet

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file reads XLSX workbooks within Limits. It reads only the parts an
// import needs (the package and workbook relationships, the list of sheets,
// the shared strings and the sheets asked for), streams each through a
// guard that bounds the part and every token in it, and keeps cells, not
// rows of padding: blank cells are dropped, and rows come to the caller one
// at a time.

// CellKind is what a cell holds.
type CellKind int

// Kinds of cells.
const (
	CellNumber  CellKind = iota // a number (Text as stored, e.g. "1.5E+3")
	CellText                    // text (shared, inline or a formula's text)
	CellBool                    // TRUE or FALSE (Text "1" or "0")
	CellError                   // an error value such as #DIV/0! (Text)
	CellDate                    // an ISO 8601 date (Text)
	CellNoValue                 // a formula whose value was never computed
)

// Cell is one non-blank cell of a row.
type Cell struct {
	Col     int // 0 is column A
	Kind    CellKind
	Text    string
	Formula bool
}

// Ref is the cell's reference in row, e.g. "E7".
func (c Cell) Ref(row int) string { return cellRef(c.Col+1, row) }

// workbook is an XLSX archive opened for reading.
type workbook struct {
	lim    Limits
	files  map[string]*zip.File // by lower-case name
	total  int64
	sheets []sheetEntry
	shared []string
	sstRef string
	sstOK  bool
}

type sheetEntry struct {
	name, part string
	hidden     bool
}

const (
	relsNS          = "relationships"
	typeOfficeDoc   = "/officeDocument"
	typeWorksheet   = "/worksheet"
	typeSharedStrs  = "/sharedStrings"
	maxExcelRow     = 1_048_576
	maxExcelColumns = 16_384
)

// errNotXLSX wraps the reasons a file is not a readable workbook.
var errNotXLSX = errors.New("the file is not a readable XLSX workbook")

// openWorkbook opens an XLSX file and reads its list of sheets.
func openWorkbook(data []byte, lim Limits) (*workbook, error) {
	if n, ok := zipEntries(data); ok && n > uint64(lim.MaxParts) {
		return nil, limitErr("max_parts", int64(lim.MaxParts), "parts in the archive", "it lists %d", n)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("%w: %s", errNotXLSX, err)
	}
	if len(zr.File) > lim.MaxParts {
		return nil, limitErr("max_parts", int64(lim.MaxParts), "parts in the archive", "it lists %d", len(zr.File))
	}
	w := &workbook{lim: lim, files: map[string]*zip.File{}}
	for _, f := range zr.File {
		w.files[strings.ToLower(strings.TrimPrefix(strings.ReplaceAll(f.Name, "\\", "/"), "/"))] = f
	}
	wbPart := "xl/workbook.xml"
	if rels, err := w.readRels("_rels/.rels", ""); err != nil {
		return nil, err
	} else if t := rels.byType(typeOfficeDoc); t != "" {
		wbPart = t
	}
	wbRels, err := w.readRels(path.Join(path.Dir(wbPart), "_rels", path.Base(wbPart)+".rels"), path.Dir(wbPart))
	if err != nil {
		return nil, err
	}
	w.sstRef = wbRels.byType(typeSharedStrs)
	if err := w.readSheetList(wbPart, wbRels); err != nil {
		return nil, err
	}
	return w, nil
}

// open returns a guarded reader of a part, or nil when the archive lacks it.
func (w *workbook) open(name string, budget int64) (io.ReadCloser, error) {
	f := w.files[strings.ToLower(name)]
	if f == nil {
		return nil, nil
	}
	if f.UncompressedSize64 > uint64(budget) {
		return nil, limitErr(limitName(budget, w.lim), budget, "bytes unpacked", "the part %s declares %d", name, f.UncompressedSize64)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: the part %s: %s", errNotXLSX, name, err)
	}
	g := &xmlGuard{r: rc, part: name, max: budget, total: &w.total, maxTotal: w.lim.MaxTotalBytes, maxRun: w.lim.maxTokenBytes()}
	return struct {
		io.Reader
		io.Closer
	}{g, rc}, nil
}

func limitName(budget int64, lim Limits) string {
	if budget == lim.MaxSmallPartBytes {
		return "max_small_part_bytes"
	}
	return "max_part_bytes"
}

// decoder returns a strict XML decoder of r that knows no entities beyond
// XML's own.
func decoder(r io.Reader) *xml.Decoder {
	d := xml.NewDecoder(r)
	d.Strict = true
	d.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		if strings.EqualFold(label, "utf-8") {
			return in, nil
		}
		return nil, fmt.Errorf("the encoding %s is not read: save the workbook again", label)
	}
	return d
}

// walk calls fn with every token of an XML part and the path of elements
// it lies in, refusing parts nested deeper than maxDepth.
func walk(d *xml.Decoder, part string, fn func(tok xml.Token, depth int) error) error {
	depth := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			var le *LimitError
			if errors.As(err, &le) {
				return le
			}
			return fmt.Errorf("%w: the part %s: %s", errNotXLSX, part, err)
		}
		switch tok.(type) {
		case xml.StartElement:
			if depth++; depth > maxDepth {
				return fmt.Errorf("%w: the part %s nests elements more than %d deep", errNotXLSX, part, maxDepth)
			}
		case xml.EndElement:
			depth--
		}
		if err := fn(tok, depth); err != nil {
			return err
		}
	}
}

type rels []struct{ id, typ, target string }

func (rs rels) byType(suffix string) string {
	for _, r := range rs {
		if strings.HasSuffix(r.typ, suffix) {
			return r.target
		}
	}
	return ""
}

func (rs rels) byID(id string) string {
	for _, r := range rs {
		if r.id == id {
			return r.target
		}
	}
	return ""
}

// readRels reads a relationships part; targets are made absolute from dir.
func (w *workbook) readRels(name, dir string) (rels, error) {
	rc, err := w.open(name, w.lim.MaxSmallPartBytes)
	if err != nil || rc == nil {
		return nil, err
	}
	defer rc.Close()
	var out rels
	err = walk(decoder(rc), name, func(tok xml.Token, _ int) error {
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "Relationship" {
			return nil
		}
		if len(out) >= w.lim.MaxParts {
			return limitErr("max_parts", int64(w.lim.MaxParts), "relationships", "in %s", name)
		}
		id, typ, target := attr(se, "Id"), attr(se, "Type"), attr(se, "Target")
		if strings.HasPrefix(target, "/") {
			target = strings.TrimPrefix(target, "/")
		} else {
			target = path.Join(dir, target)
		}
		out = append(out, struct{ id, typ, target string }{id, typ, target})
		return nil
	})
	return out, err
}

func attr(se xml.StartElement, local string) string {
	for _, a := range se.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// readSheetList reads the workbook's sheets: names, parts, visibility.
func (w *workbook) readSheetList(name string, rs rels) error {
	rc, err := w.open(name, w.lim.MaxSmallPartBytes)
	if err != nil {
		return err
	}
	if rc == nil {
		return fmt.Errorf("%w: it lacks the part %s", errNotXLSX, name)
	}
	defer rc.Close()
	return walk(decoder(rc), name, func(tok xml.Token, _ int) error {
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "sheet" {
			return nil
		}
		if len(w.sheets) >= w.lim.MaxParts {
			return limitErr("max_parts", int64(w.lim.MaxParts), "sheets", "in %s", name)
		}
		e := sheetEntry{name: attr(se, "name"), hidden: attr(se, "state") != "" && attr(se, "state") != "visible"}
		for _, a := range se.Attr {
			if a.Name.Local == "id" && strings.Contains(a.Name.Space, relsNS) {
				e.part = rs.byID(a.Value)
			}
		}
		w.sheets = append(w.sheets, e)
		return nil
	})
}

// SheetNames lists the workbook's sheets in order.
func (w *workbook) sheetNames() []string {
	out := make([]string, len(w.sheets))
	for i, s := range w.sheets {
		out[i] = s.name
	}
	return out
}

func (w *workbook) sheet(name string) *sheetEntry {
	for i := range w.sheets {
		if w.sheets[i].name == name {
			return &w.sheets[i]
		}
	}
	return nil
}

// sharedStrings reads the table of shared strings once, within
// MaxSharedStrings and MaxSharedStringBytes. Each string is kept once; cells
// that refer to it share its text.
func (w *workbook) sharedStrings() ([]string, error) {
	if w.sstOK {
		return w.shared, nil
	}
	w.sstOK = true
	name := w.sstRef
	if name == "" {
		name = "xl/sharedStrings.xml"
	}
	rc, err := w.open(name, w.lim.MaxPartBytes)
	if err != nil || rc == nil {
		return nil, err
	}
	defer rc.Close()
	var (
		total int64
		cur   strings.Builder
		runes int
		inSI  bool
		inT   bool
		inRPh bool
	)
	err = walk(decoder(rc), name, func(tok xml.Token, _ int) error {
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "si":
				if len(w.shared) >= w.lim.MaxSharedStrings {
					return limitErr("max_shared_strings", int64(w.lim.MaxSharedStrings), "shared strings", "in %s", name)
				}
				inSI = true
				cur.Reset()
				runes = 0
			case "rPh":
				inRPh = true
			case "t":
				inT = inSI && !inRPh
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "si":
				inSI = false
				w.shared = append(w.shared, cur.String())
			case "rPh":
				inRPh = false
			case "t":
				inT = false
			}
		case xml.CharData:
			if !inT {
				return nil
			}
			if total += int64(len(t)); total > w.lim.MaxSharedStringBytes {
				return limitErr("max_shared_string_bytes", w.lim.MaxSharedStringBytes, "bytes of shared strings", "in %s", name)
			}
			if runes += utf8.RuneCount(t); runes > w.lim.MaxCellChars {
				return limitErr("max_cell_chars", int64(w.lim.MaxCellChars), "characters in one cell", "shared string %d", len(w.shared))
			}
			cur.Write(t)
		}
		return nil
	})
	return w.shared, err
}

// readSheet streams the named sheet's rows to fn: the row number and its
// non-blank cells in column order (the slice is reused between calls).
// Shared strings are read only when the sheet refers to them. A sheet
// whose used range exceeds MaxCells or MaxColumns is refused as soon as a
// cell shows it.
func (w *workbook) readSheet(name string, fn func(row int, cells []Cell) error) error {
	e := w.sheet(name)
	if e == nil || e.part == "" {
		return fmt.Errorf("%w: the sheet %s has no part", errNotXLSX, name)
	}
	// Shared strings are looked up while the sheet streams, so read them
	// first when the sheet may refer to them.
	shared, err := w.sharedStrings()
	if err != nil {
		return err
	}
	rc, err := w.open(e.part, w.lim.MaxPartBytes)
	if err != nil {
		return err
	}
	if rc == nil {
		return fmt.Errorf("%w: the sheet %s lacks its part %s", errNotXLSX, name, e.part)
	}
	defer rc.Close()
	var (
		rowNum, lastRow, widest int
		cells                   []Cell
		cell                    Cell
		typ                     string
		inCell, inV, inIS, inT  bool
		inRPh, hasV             bool
		val                     strings.Builder
		valRunes, nextCol       int
	)
	where := func() string { return name + "!" + cellRef(cell.Col+1, rowNum) }
	inData := false // rows and cells live in sheetData only
	err = walk(decoder(rc), e.part, func(tok xml.Token, _ int) error {
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Local == "sheetData" {
				inData = true
			}
			if !inData {
				return nil
			}
			switch t.Name.Local {
			case "row":
				n := rowNum + 1
				if r := attr(t, "r"); r != "" {
					var err error
					if n, err = strconv.Atoi(r); err != nil || n < 1 || n > maxExcelRow || n <= rowNum {
						return fmt.Errorf("%w: the sheet %s has a row numbered %q after row %d", errNotXLSX, name, r, rowNum)
					}
				}
				rowNum, cells, nextCol = n, cells[:0], 0
			case "c":
				if rowNum == 0 {
					return fmt.Errorf("%w: the sheet %s has a cell outside any row", errNotXLSX, name)
				}
				col := nextCol
				if r := attr(t, "r"); r != "" {
					c, rn, ok := parseRef(r)
					if !ok || rn != rowNum || c < nextCol {
						return fmt.Errorf("%w: the sheet %s has a cell %q out of place in row %d", errNotXLSX, name, r, rowNum)
					}
					col = c
				}
				nextCol = col + 1
				cell, typ, inCell, hasV = Cell{Col: col}, attr(t, "t"), true, false
				val.Reset()
				valRunes = 0
			case "v":
				inV, hasV = inCell, inCell
			case "f":
				cell.Formula = cell.Formula || inCell
			case "is":
				inIS = inCell
				hasV = hasV || inCell
			case "rPh":
				inRPh = true
			case "t":
				inT = inIS && !inRPh
			}
		case xml.EndElement:
			if !inData {
				return nil
			}
			switch t.Name.Local {
			case "sheetData":
				inData = false
			case "v":
				inV = false
			case "is":
				inIS = false
			case "rPh":
				inRPh = false
			case "t":
				inT = false
			case "c":
				inCell = false
				if !hasV {
					if !cell.Formula {
						return nil // blank
					}
					cell.Kind = CellNoValue
				} else if err := cellValue(&cell, typ, val.String(), shared); err != nil {
					return fmt.Errorf("%w: %s %s", errNotXLSX, where(), err)
				}
				if cell.Kind == CellText && cell.Text == "" && !cell.Formula {
					return nil
				}
				if cell.Col >= w.lim.MaxColumns {
					return limitErr("max_columns", int64(w.lim.MaxColumns), "columns holding values", "%s", where())
				}
				lastRow, widest = rowNum, max(widest, cell.Col+1)
				if int64(lastRow)*int64(widest) > w.lim.MaxCells {
					return limitErr("max_cells", w.lim.MaxCells, "cells (rows × columns of the used range)", "%s", where())
				}
				cells = append(cells, cell)
			case "row":
				if len(cells) > 0 {
					return fn(rowNum, cells)
				}
			}
		case xml.CharData:
			if inV || inT {
				if valRunes += utf8.RuneCount(t); valRunes > w.lim.MaxCellChars {
					return limitErr("max_cell_chars", int64(w.lim.MaxCellChars), "characters in one cell", "%s", where())
				}
				val.Write(t)
			}
		}
		return nil
	})
	return err
}

// cellValue sets a cell's kind and text from its type attribute and value.
func cellValue(c *Cell, typ, v string, shared []string) error {
	switch typ {
	case "", "n":
		c.Kind, c.Text = CellNumber, strings.TrimSpace(v)
		if c.Text == "" {
			c.Kind = CellText
		}
	case "s":
		i, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || i < 0 || i >= len(shared) {
			return fmt.Errorf("refers to shared string %q, which the workbook lacks", v)
		}
		c.Kind, c.Text = CellText, shared[i]
	case "str", "inlineStr":
		c.Kind, c.Text = CellText, v
	case "b":
		c.Kind, c.Text = CellBool, strings.TrimSpace(v)
	case "e":
		c.Kind, c.Text = CellError, strings.TrimSpace(v)
	case "d":
		c.Kind, c.Text = CellDate, strings.TrimSpace(v)
	default:
		return fmt.Errorf("has the unknown cell type %q", typ)
	}
	return nil
}

// parseRef splits a cell reference such as "AB12" into its 0-based column
// and its row, within Excel's own bounds.
func parseRef(ref string) (col, row int, ok bool) {
	i := 0
	for i < len(ref) && i < 4 && (ref[i] >= 'A' && ref[i] <= 'Z' || ref[i] >= 'a' && ref[i] <= 'z') {
		c := int(ref[i]|0x20) - 'a' + 1
		col = col*26 + c
		i++
	}
	if i == 0 || col > maxExcelColumns {
		return 0, 0, false
	}
	row, err := strconv.Atoi(ref[i:])
	if err != nil || row < 1 || row > maxExcelRow || ref[i] == '+' || ref[i] == '0' {
		return 0, 0, false
	}
	return col - 1, row, true
}
