// Package xlsxtest builds XLSX files by hand for tests, hostile ones
// included: workbooks whose parts unpack to far more than they weigh, cells
// of hundreds of megabytes, tables of shared strings, references at the
// far corner of a sheet. Each is streamed into a compressor, so building a
// file that unpacks to 256 MiB takes no more memory than the file itself.
package xlsxtest

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
)

// Part is one entry of an archive: its name and what writes its content.
type Part struct {
	Name  string
	Write func(w io.Writer) error
}

// Text is a part holding s.
func Text(name, s string) Part {
	return Part{Name: name, Write: func(w io.Writer) error { _, err := io.WriteString(w, s); return err }}
}

// Repeat is a part holding head, then s n times, then tail.
func Repeat(name, head, s string, n int, tail string) Part {
	return Part{Name: name, Write: func(w io.Writer) error {
		if _, err := io.WriteString(w, head); err != nil {
			return err
		}
		chunk := strings.Repeat(s, max(1, 64<<10/max(1, len(s))))
		per := len(chunk) / max(1, len(s))
		for n > 0 {
			k := min(n, per)
			if _, err := io.WriteString(w, chunk[:k*len(s)]); err != nil {
				return err
			}
			n -= k
		}
		_, err := io.WriteString(w, tail)
		return err
	}}
}

// Zip writes the parts into an archive, compressed as tightly as deflate
// allows.
func Zip(parts ...Part) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) { return flate.NewWriter(w, flate.BestCompression) })
	for _, p := range parts {
		w, err := zw.Create(p.Name)
		if err != nil {
			return nil, err
		}
		if err := p.Write(w); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Lying is a part whose header declares it unpacks to declared bytes while
// it unpacks to the real content.
func Lying(zw *zip.Writer, p Part, declared uint64) error {
	var raw bytes.Buffer
	fw, err := flate.NewWriter(&raw, flate.BestCompression)
	if err != nil {
		return err
	}
	crc := crc32.NewIEEE()
	if err := p.Write(io.MultiWriter(fw, crc)); err != nil {
		return err
	}
	if err := fw.Close(); err != nil {
		return err
	}
	w, err := zw.CreateRaw(&zip.FileHeader{Name: p.Name, Method: zip.Deflate, CRC32: crc.Sum32(),
		CompressedSize64: uint64(raw.Len()), UncompressedSize64: declared})
	if err != nil {
		return err
	}
	_, err = w.Write(raw.Bytes())
	return err
}

// Package is what a workbook needs around its sheets: content types, the
// package and workbook relationships, and the list of sheets (each a
// worksheet part xl/worksheets/sheetN.xml), with a shared strings part
// related when withShared.
func Package(sheets []string, withShared bool) []Part {
	var wb, rels, ct strings.Builder
	wb.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>`)
	rels.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">`)
	ct.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>`)
	for i, name := range sheets {
		fmt.Fprintf(&wb, `<sheet name="%s" sheetId="%d" r:id="rId%d"/>`, name, i+1, i+1)
		fmt.Fprintf(&rels, `<Relationship Id="rId%d" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet%d.xml"/>`, i+1, i+1)
		fmt.Fprintf(&ct, `<Override PartName="/xl/worksheets/sheet%d.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>`, i+1)
	}
	if withShared {
		fmt.Fprintf(&rels, `<Relationship Id="rId%d" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>`, len(sheets)+1)
		ct.WriteString(`<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>`)
	}
	wb.WriteString(`</sheets></workbook>`)
	rels.WriteString(`</Relationships>`)
	ct.WriteString(`</Types>`)
	return []Part{
		Text("[Content_Types].xml", ct.String()),
		Text("_rels/.rels", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`),
		Text("xl/workbook.xml", wb.String()),
		Text("xl/_rels/workbook.xml.rels", rels.String()),
	}
}

// SheetHead and SheetTail open and close a worksheet's rows.
const (
	SheetHead = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`
	SheetTail = `</sheetData></worksheet>`
)

// ActualsHeader is the header row of an actuals sheet, as inline strings.
const ActualsHeader = `<row r="1"><c r="A1" t="inlineStr"><is><t>org_unit</t></is></c><c r="B1" t="inlineStr"><is><t>product_line</t></is></c><c r="C1" t="inlineStr"><is><t>measure</t></is></c><c r="D1" t="inlineStr"><is><t>month</t></is></c><c r="E1" t="inlineStr"><is><t>amount</t></is></c></row>`

// Workbook is a one-sheet workbook named "actuals" whose sheet part is
// sheet, with the extra parts added.
func Workbook(sheet Part, extra ...Part) ([]byte, error) {
	sheet.Name = "xl/worksheets/sheet1.xml"
	parts := append(Package([]string{"actuals"}, false), sheet)
	return Zip(append(parts, extra...)...)
}

// CellBomb is an actuals workbook whose cell A2 holds n spaces as inline
// text: a file of n/1000 bytes that unpacks to n.
func CellBomb(n int) ([]byte, error) {
	return Workbook(Repeat("", SheetHead+ActualsHeader+`<row r="2"><c r="A2" t="inlineStr"><is><t>`, " ", n, `</t></is></c></row>`+SheetTail))
}

// PaddingBomb is a small valid actuals workbook carrying k parts of size
// bytes of zeros each, which no reader needs.
func PaddingBomb(k, size int) ([]byte, error) {
	var pads []Part
	for i := range k {
		pads = append(pads, Repeat(fmt.Sprintf("xl/media/padding%d.bin", i), "", "\x00", size, ""))
	}
	return Workbook(Text("", SheetHead+ActualsHeader+SheetTail), pads...)
}

// SharedStringsBomb is an actuals workbook whose table of shared strings
// holds n strings of size characters each, and whose sheet refers to the
// first in each of its rows cells (in columns A to E).
func SharedStringsBomb(n, size, rows int) ([]byte, error) {
	parts := Package([]string{"actuals"}, true)
	parts = append(parts, Repeat("xl/sharedStrings.xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">`,
		"<si><t>"+strings.Repeat("x", size)+"</t></si>", n, "</sst>"))
	parts = append(parts, Part{Name: "xl/worksheets/sheet1.xml", Write: func(w io.Writer) error {
		if _, err := io.WriteString(w, SheetHead+ActualsHeader); err != nil {
			return err
		}
		for r := 2; r < rows+2; r++ {
			if _, err := fmt.Fprintf(w, `<row r="%d"><c r="A%d" t="s"><v>0</v></c><c r="B%d" t="s"><v>0</v></c><c r="C%d" t="s"><v>0</v></c><c r="D%d" t="s"><v>0</v></c><c r="E%d" t="s"><v>0</v></c></row>`, r, r, r, r, r, r); err != nil {
				return err
			}
		}
		_, err := io.WriteString(w, SheetTail)
		return err
	}})
	return Zip(parts...)
}

// FarCellBomb is an actuals workbook with one value in cell ref, e.g.
// "XFD1048576": a reader that makes the sheet a dense table allocates
// rows × columns.
func FarCellBomb(ref string) ([]byte, error) {
	row := strings.TrimLeft(ref, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
	return Workbook(Text("", SheetHead+ActualsHeader+fmt.Sprintf(`<row r="%s"><c r="%s"><v>1</v></c></row>`, row, ref)+SheetTail))
}

// DeepBomb is an actuals workbook whose sheet nests n elements.
func DeepBomb(n int) ([]byte, error) {
	return Workbook(Part{Write: func(w io.Writer) error {
		if err := Repeat("", SheetHead+ActualsHeader+`<row r="2"><c r="A2">`, "<x>", n, "").Write(w); err != nil {
			return err
		}
		return Repeat("", "", "</x>", n, `</c></row>`+SheetTail).Write(w)
	}})
}

// ManyPartsBomb is an archive listing n empty parts besides a small valid
// actuals workbook.
func ManyPartsBomb(n int) ([]byte, error) {
	var pads []Part
	for i := range n {
		pads = append(pads, Text(fmt.Sprintf("p/%d", i), ""))
	}
	return Workbook(Text("", SheetHead+ActualsHeader+SheetTail), pads...)
}

// LyingBomb is an actuals workbook whose sheet's header declares 1 KiB
// while it unpacks to n bytes of spaces in one cell.
func LyingBomb(n int) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, p := range Package([]string{"actuals"}, false) {
		w, err := zw.Create(p.Name)
		if err != nil {
			return nil, err
		}
		if err := p.Write(w); err != nil {
			return nil, err
		}
	}
	sheet := Repeat("xl/worksheets/sheet1.xml", SheetHead+ActualsHeader+`<row r="2"><c r="A2" t="inlineStr"><is><t>`, " ", n, `</t></is></c></row>`+SheetTail)
	if err := Lying(zw, sheet, 1024); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Replace returns a copy of the archive data with the named parts replaced
// (or added), for bombs hidden in a real export.
func Replace(data []byte, parts ...Part) ([]byte, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	byName := map[string]Part{}
	for _, p := range parts {
		byName[p.Name] = p
	}
	var out []Part
	for _, f := range zr.File {
		if p, ok := byName[f.Name]; ok {
			out = append(out, p)
			delete(byName, f.Name)
			continue
		}
		f := f
		out = append(out, Part{Name: f.Name, Write: func(w io.Writer) error {
			rc, err := f.Open()
			if err != nil {
				return err
			}
			defer rc.Close()
			_, err = io.Copy(w, rc)
			return err
		}})
	}
	for _, p := range parts {
		if _, ok := byName[p.Name]; ok {
			out = append(out, p)
		}
	}
	return Zip(out...)
}
