package spreadsheet

import (
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-pdf/fpdf"
	"github.com/shopspring/decimal"

	"github.com/cascade-planning/cascade/planning"
)

// The letter's fonts, embedded whole; the PDF carries only the glyphs it
// uses (fpdf subsets TrueType fonts). DejaVu Sans Condensed (Bitstream Vera
// licence, DejaVu changes in the public domain) sets Latin text and digits;
// Droid Sans Fallback (Apache-2.0) sets Chinese, which DejaVu lacks. Their
// licences are in fonts/.
var (
	//go:embed fonts/DejaVuSansCondensed.ttf
	latinFont []byte
	//go:embed fonts/DroidSansFallback.ttf
	cjkFont []byte
)

const (
	fontLatin = "dejavu"
	fontCJK   = "droid"
)

// pdfDoc wraps fpdf with text that switches font per script, since no one
// font here has both Latin and Chinese glyphs.
type pdfDoc struct {
	*fpdf.Fpdf
	size float64
	// drawn are the runes the letter draws, to check its font subsets
	// hold them.
	drawn map[rune]bool
}

// isCJK reports whether r is set in the Chinese font: the CJK blocks,
// CJK symbols and punctuation, and full-width forms.
func isCJK(r rune) bool {
	return r >= 0x2E80 && r <= 0x9FFF || r >= 0xF900 && r <= 0xFAFF || r >= 0xFE30 && r <= 0xFE4F || r >= 0xFF00 && r <= 0xFFEF
}

// runs splits s into pieces of one script each.
func runs(s string) []struct {
	text string
	cjk  bool
} {
	var out []struct {
		text string
		cjk  bool
	}
	var b strings.Builder
	cur := false
	flush := func() {
		if b.Len() > 0 {
			out = append(out, struct {
				text string
				cjk  bool
			}{b.String(), cur})
			b.Reset()
		}
	}
	for _, r := range s {
		c := isCJK(r)
		if c != cur {
			flush()
			cur = c
		}
		b.WriteRune(r)
	}
	flush()
	return out
}

func (d *pdfDoc) font(cjk bool) {
	if cjk {
		d.SetFont(fontCJK, "", d.size)
	} else {
		d.SetFont(fontLatin, "", d.size)
	}
}

// width returns the width of s at the current size.
func (d *pdfDoc) width(s string) float64 {
	w := 0.0
	for _, r := range runs(s) {
		d.font(r.cjk)
		w += d.GetStringWidth(r.text)
	}
	return w
}

// fit shortens s with an ellipsis until it fits w.
func (d *pdfDoc) fit(s string, w float64) string {
	if d.width(s) <= w {
		return s
	}
	rs := []rune(s)
	for len(rs) > 0 && d.width(string(rs)+"…") > w {
		rs = rs[:len(rs)-1]
	}
	return string(rs) + "…"
}

// cell draws s in a box of w × h, aligned "L", "R" or "C", with a border
// when border, and moves right.
func (d *pdfDoc) cell(w, h float64, s string, align string, border bool, fill bool) {
	x, y := d.GetX(), d.GetY()
	if w == 0 {
		// To the right margin, as fpdf does.
		pw, _ := d.GetPageSize()
		_, _, right, _ := d.GetMargins()
		w = pw - right - x
	}
	b := ""
	if border {
		b = "1"
	}
	d.CellFormat(w, h, "", b, 0, "", fill, 0, "")
	s = d.fit(s, w-2)
	tw := d.width(s)
	tx := x + 1
	switch align {
	case "R":
		tx = x + w - 1 - tw
	case "C":
		tx = x + (w-tw)/2
	}
	d.SetXY(tx, y)
	for _, r := range s {
		d.drawn[r] = true
	}
	for _, r := range runs(s) {
		d.font(r.cjk)
		d.CellFormat(d.GetStringWidth(r.text), h, r.text, "", 0, "L", false, 0, "")
	}
	d.SetXY(x+w, y)
}

// numCell draws an amount right-aligned in a box of w × h, at a smaller
// size when it does not fit: an amount is never cut short.
func (d *pdfDoc) numCell(w, h float64, s string, fill bool) {
	size := d.size
	for d.size > 3.5 && d.width(s) > w-2 {
		d.size -= 0.25
	}
	d.cell(w, h, s, "R", true, fill)
	d.size = size
}

// para writes s as wrapped text over the full width.
func (d *pdfDoc) para(s string, h float64) {
	left, _, right, _ := d.GetMargins()
	pw, _ := d.GetPageSize()
	maxW := pw - left - right
	line := ""
	for _, word := range strings.SplitAfter(s, " ") {
		if d.width(line+word) > maxW && line != "" {
			d.cell(maxW, h, strings.TrimRight(line, " "), "L", false, false)
			d.Ln(h)
			line = ""
		}
		line += word
	}
	d.cell(maxW, h, strings.TrimRight(line, " "), "L", false, false)
	d.Ln(h)
}

// groupDigits writes an amount with thousands separators, keeping every
// decimal place.
func groupDigits(d decimal.Decimal, scale int32) string {
	s := planning.FormatAmount(d, scale)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	for i, r := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	out := b.String()
	if frac != "" {
		out += "." + frac
	}
	if neg {
		out = "-" + out
	}
	return out
}

// ZoneLabel names a time zone as a letter states it: its IANA name, its
// abbreviation and its offset from UTC at t, e.g. "Asia/Shanghai (CST,
// UTC+08:00)".
func ZoneLabel(loc *time.Location, t time.Time) string {
	name, _ := t.In(loc).Zone()
	return fmt.Sprintf("%s (%s, UTC%s)", loc.String(), name, t.In(loc).Format("-07:00"))
}

// WriteLetterPDF writes the letter as an A4 landscape PDF: the cover text,
// the unit, round, version and approval record; for each measure the
// targets by product line and month, then by quarter and year, with
// totals; the scorecard the unit is assessed on; and signature blocks for
// the issuer and the recipient. Dates and times are in l.Location (UTC
// when nil), each with the zone's abbreviation, and the cover names the
// zone (ZoneLabel).
//
// The fonts are parsed once per process; each letter embeds subsets of
// the glyphs it draws, built from the parsed fonts. The runes of the
// letter's data and fixed text make the first subsets; should the letter
// draw a rune they lack, it is written again with that rune too.
func WriteLetterPDF(w io.Writer, l *Letter) error {
	latin, cjk, err := letterFonts()
	if err != nil {
		return err
	}
	want := letterRunes(l)
	for range 3 {
		var latinRunes, cjkRunes []rune
		for r := range want {
			if isCJK(r) {
				cjkRunes = append(cjkRunes, r)
			} else {
				latinRunes = append(latinRunes, r)
			}
		}
		var buf bytes.Buffer
		drawn, err := writeLetterPDF(&buf, l, latin.Subset(latinRunes), cjk.Subset(cjkRunes))
		if err != nil {
			return err
		}
		missing := false
		for r := range drawn {
			if !want[r] {
				want[r], missing = true, true
			}
		}
		if !missing {
			_, err := w.Write(buf.Bytes())
			return err
		}
	}
	return fmt.Errorf("target letter %s: the runes it draws kept changing", l.Unit.Code)
}

// letterText is the letter's fixed text, whose runes every subset holds.
const letterText = "目标责任书 根据年度经营计划，公司向下达以下目标，作为年度考核的依据。 单位计划周期版本预算基准批准冻结审批时区" +
	"产品线季度全年合计无目标考核指标项重点产品权重方向越高越好越低越好计分全部下达方业务计划部接收方签字日期 " +
	"…→≥×÷−—·–%:;,.()/"

// letterRunes are the runes of the letter's fixed text, printable ASCII,
// and its data's text.
func letterRunes(l *Letter) map[rune]bool {
	out := map[rune]bool{}
	add := func(ss ...string) {
		for _, s := range ss {
			for _, r := range s {
				out[r] = true
			}
		}
	}
	for r := rune(0x20); r < 0x7F; r++ {
		out[r] = true
	}
	add(letterText, l.IssuedTo)
	if u := l.Unit; u != nil {
		add(u.Code, u.Name, u.NameLocal, string(u.Kind))
	}
	if r := l.Round; r != nil {
		add(r.Code, r.Name)
	}
	if v := l.Version; v != nil {
		add(v.Label, string(v.Status))
	}
	if a := l.Approval; a != nil {
		add(a.ApprovedByName, a.FrozenByName, a.Comment)
		for _, st := range a.Steps {
			add(st.ActorName, st.Comment, string(st.Role), string(st.Action))
		}
	}
	for _, m := range l.Measures {
		add(m.Code, m.Name, m.NameLocal, m.Unit)
	}
	for _, pl := range l.Lines {
		add(pl.Code, pl.Name, pl.NameLocal)
	}
	if c := l.Scorecard; c != nil {
		add(c.Name)
		for _, k := range c.KPIs {
			add(k.Label, k.MeasureCode)
			add(k.ProductLineCodes...)
		}
	}
	return out
}

// writeLetterPDF writes the letter with the given font subsets and
// returns the runes it drew.
func writeLetterPDF(w io.Writer, l *Letter, latinSubset, cjkSubset []byte) (map[rune]bool, error) {
	p := fpdf.New("L", "mm", "A4", "")
	p.SetMargins(12, 12, 12)
	p.SetAutoPageBreak(true, 14)
	p.AddUTF8FontFromBytes(fontLatin, "", latinSubset)
	p.AddUTF8FontFromBytes(fontCJK, "", cjkSubset)
	p.SetFont(fontLatin, "", 9)
	// pdfDoc.cell pads text itself.
	p.SetCellMargin(0)
	p.SetTitle("Target letter "+l.Unit.Code+" "+l.Round.Code, true)
	p.SetCreator("Cascade", true)
	p.SetCreationDate(l.IssuedAt)
	p.SetModificationDate(l.IssuedAt)
	d := &pdfDoc{Fpdf: p, size: 9, drawn: map[rune]bool{}}
	loc := l.Location
	if loc == nil {
		loc = time.UTC
	}
	when := func(t *time.Time) string {
		if t == nil {
			return "—"
		}
		return t.In(loc).Format("2006-01-02 15:04 MST")
	}
	unitName := l.Unit.Name
	if l.Unit.NameLocal != "" {
		unitName = l.Unit.NameLocal + " " + l.Unit.Name
	}
	p.SetFooterFunc(func() {
		p.SetY(-10)
		d.size = 7
		d.cell(0, 4, fmt.Sprintf("%s · %s · version %d · page %d/{nb}", l.Unit.Code, l.Round.Code, l.Version.Number, p.PageNo()), "C", false, false)
	})
	p.AliasNbPages("{nb}")
	p.AddPage()

	// The cover text.
	d.size = 16
	d.cell(0, 9, "目标责任书 Target letter", "C", false, false)
	p.Ln(9)
	d.size = 13
	d.cell(0, 7, unitName, "C", false, false)
	p.Ln(9)
	d.size = 9
	d.para(fmt.Sprintf("根据%s年度经营计划，公司向%s下达以下目标，作为年度考核的依据。 "+
		"Under the business plan for fiscal year %d, the company sets %s the targets below; the unit is assessed against them on the scorecard that follows.",
		fmt.Sprint(l.Round.FiscalYear), unitName, l.Round.FiscalYear, unitName), 4.6)
	p.Ln(1)

	status := "not the budget of record"
	if l.Approval != nil && l.Approval.Record {
		status = "budget of record 预算基准"
	}
	head := [][2]string{
		{"Org unit 单位", fmt.Sprintf("%s %s (%s)", l.Unit.Code, unitName, l.Unit.Kind)},
		{"Round 计划周期", fmt.Sprintf("%s %s, fiscal year %d (%s to %s)", l.Round.Code, l.Round.Name, l.Round.FiscalYear, l.Round.MonthLabel(1), l.Round.MonthLabel(12))},
		{"Version 版本", fmt.Sprintf("%d %s (%s, %s, revision %d)", l.Version.Number, l.Version.Label, l.Version.Status, status, l.Version.Revision)},
	}
	if a := l.Approval; a != nil {
		approved := fmt.Sprintf("%s, %s", person(a.ApprovedByName, a.ApprovedBy), when(a.ApprovedAt))
		if a.Comment != "" {
			approved += ": " + a.Comment
		}
		head = append(head, [2]string{"Approved 批准", approved},
			[2]string{"Frozen 冻结", fmt.Sprintf("%s, %s", person(a.FrozenByName, a.FrozenBy), when(a.FrozenAt))})
		for i, st := range a.Steps {
			at := st.At
			line := fmt.Sprintf("%s by %s (%s), %s", st.Action, person(st.ActorName, &st.ActorID), st.Role, when(&at))
			if st.Comment != "" {
				line += ": " + st.Comment
			}
			head = append(head, [2]string{fmt.Sprintf("Step %d 审批", i+1), line})
		}
	}
	issued := l.IssuedAt
	head = append(head, [2]string{"Issued 下达", fmt.Sprintf("%s to %s", when(&issued), l.IssuedTo)},
		[2]string{"Time zone 时区", ZoneLabel(loc, issued)})
	d.size = 8
	for _, h := range head {
		d.cell(30, 3.9, h[0], "L", false, false)
		d.cell(0, 3.9, h[1], "L", false, false)
		p.Ln(3.9)
	}

	// The targets: one table per measure, product lines by month, quarter
	// and year, with a total row. Lines without any target in the year
	// are left out, and so are measures without any.
	pw, _ := p.GetPageSize()
	full := pw - 24
	const rowH = 3.4
	// pageBottom is where the automatic page break would fall (A4
	// landscape, 14 mm bottom margin); tables break before it themselves.
	const pageBottom = 210 - 14
	var none []string
	for _, m := range l.Measures {
		var rows []planning.GridRow
		for _, r := range l.Rows {
			if r.MeasureID != m.ID {
				continue
			}
			for _, pa := range r.Periods {
				if !pa.Amount.IsZero() {
					rows = append(rows, r)
					break
				}
			}
		}
		if len(rows) == 0 {
			none = append(none, m.NameLocal+" "+m.Name)
			continue
		}
		// The title, the heading and two rows stay together; a longer
		// table goes on over the page with its heading repeated.
		if _, y := p.GetXY(); y+3*rowH+7 > pageBottom {
			p.AddPage()
		}
		p.Ln(1.5)
		d.size = 10
		d.cell(0, 5.5, fmt.Sprintf("%s %s (%s, %s%s)", m.NameLocal, m.Name, m.Code, m.Unit, AggregationNote(m)), "L", false, false)
		p.Ln(5.5)
		// Months narrow, quarters wider, the year widest: each column is as
		// wide as the largest amounts it shows need.
		lineW := 26.0
		monthW, quarterW := 13.5, 15.0
		yearW := full - lineW - 12*monthW - 4*quarterW
		widths := make([]float64, 17)
		for i := range widths {
			switch {
			case i == 16:
				widths[i] = yearW
			case i%4 == 3:
				widths[i] = quarterW
			default:
				widths[i] = monthW
			}
		}
		heading := func() {
			p.SetFillColor(230, 236, 245)
			d.size = 6
			d.cell(lineW, rowH, "Product line 产品线", "L", true, true)
			for q := 1; q <= 4; q++ {
				for i := 3*q - 2; i <= 3*q; i++ {
					d.cell(monthW, rowH, l.Round.MonthLabel(i), "C", true, true)
				}
				d.cell(quarterW, rowH, fmt.Sprintf("Q%d 季度", q), "C", true, true)
			}
			d.cell(yearW, rowH, "Year 全年", "C", true, true)
			p.Ln(rowH)
		}
		heading()
		totals := make([]decimal.Decimal, 17)
		line := func(label string, vals []decimal.Decimal, fill bool) {
			if _, y := p.GetXY(); y+rowH > pageBottom {
				p.AddPage()
				heading()
			}
			d.size = 6
			d.cell(lineW, rowH, label, "L", true, fill)
			for i, v := range vals {
				d.size = 6
				if i%4 == 3 || i == 16 {
					p.SetFillColor(242, 242, 242)
					d.numCell(widths[i], rowH, groupDigits(v, m.Scale), true)
					p.SetFillColor(230, 236, 245)
				} else {
					d.numCell(widths[i], rowH, groupDigits(v, m.Scale), fill)
				}
			}
			p.Ln(rowH)
		}
		for _, r := range rows {
			vals := make([]decimal.Decimal, 17)
			for q := range 4 {
				for k := range 3 {
					if i := 3*q + k; i < len(r.Periods) {
						vals[4*q+k] = r.Periods[i].Amount
						vals[4*q+3] = vals[4*q+3].Add(r.Periods[i].Amount)
					}
				}
				vals[16] = vals[16].Add(vals[4*q+3])
			}
			if !m.IsSum() {
				for q := range 4 {
					vals[4*q+3], _ = l.rollup(m, r.ProductLineID, column{quarter: q + 1})
				}
				vals[16], _ = l.rollup(m, r.ProductLineID, column{year: true})
			}
			for i := range vals {
				totals[i] = totals[i].Add(vals[i])
			}
			label := r.ProductLineCode
			if pl := l.Lines[r.ProductLineID]; pl != nil {
				label = pl.Code + " " + pl.Name
				if pl.NameLocal != "" && pl.NameLocal != pl.Code {
					label = pl.Code + " " + pl.NameLocal
				}
			}
			line(label, vals, false)
		}
		if m.IsSum() {
			// Rates, levels and ratings of product lines do not add up.
			line("Total 合计", totals, true)
		}
	}
	d.size = 8
	if len(none) > 0 {
		p.Ln(1)
		d.para("No targets 无目标: "+strings.Join(none, ", "), 4)
	}

	// The scorecard.
	if c := l.Scorecard; c != nil {
		if _, y := p.GetXY(); y+float64(len(c.KPIs)+4)*4.6 > 195 {
			p.AddPage()
		}
		p.Ln(3)
		d.size = 10.5
		d.cell(0, 6, fmt.Sprintf("考核 Scorecard: %s (revision %d)", c.Name, c.Revision), "L", false, false)
		p.Ln(6)
		d.size = 7.5
		cols := []struct {
			title string
			w     float64
		}{{"KPI 指标", 55}, {"Measure 指标项", 30}, {"Key lines 重点产品", 35}, {"Weight 权重", 20}, {"Direction 方向", 40}, {"Curve 计分", full - 180}}
		for _, col := range cols {
			d.cell(col.w, 4.6, col.title, "L", true, true)
		}
		p.Ln(4.6)
		for _, k := range c.KPIs {
			dir := "higher is better 越高越好"
			if k.Direction == planning.LowerIsBetter {
				dir = "lower is better 越低越好"
			}
			curve := fmt.Sprintf("linear: 0 below %s%%, capped at %s%%", k.Curve.FloorPct, k.Curve.CapPct)
			if k.Curve.Kind == planning.CurveSteps {
				var parts []string
				for _, s := range k.Curve.Steps {
					parts = append(parts, fmt.Sprintf("≥%s%% → %s", s.MinPct, s.Points))
				}
				curve = "steps: " + strings.Join(parts, ", ")
			}
			lines := strings.Join(k.ProductLineCodes, ", ")
			if lines == "" {
				lines = "all 全部"
			}
			vals := []string{k.Label, k.MeasureCode, lines, k.Weight.String() + "%", dir, curve}
			for i, col := range cols {
				d.cell(col.w, 4.6, vals[i], "L", true, false)
			}
			p.Ln(4.6)
		}
		d.size = 8
		p.Ln(1)
		d.para(fmt.Sprintf("Attainment = actual ÷ target × 100 (lower is better: (2 × target − actual) ÷ target × 100), at 2 places half to even; "+
			"score = Σ points × weight ÷ 100, rounded at %d places (%s). On target on every KPI scores %s.",
			c.Rounding.Places, c.Rounding.Mode, c.OnTargetScore().StringFixed(c.Rounding.Places)), 4)
	}

	// The signature blocks.
	if _, y := p.GetXY(); y > 165 {
		p.AddPage()
	}
	p.Ln(6)
	d.size = 9
	half := full / 2
	d.cell(half, 5, "Issuer 下达方: "+l.Round.Code+" strategy office 业务计划部", "L", false, false)
	d.cell(half, 5, "Recipient 接收方: "+unitName, "L", false, false)
	p.Ln(10)
	for _, label := range []string{"Signature 签字: ________________________", "Date 日期: ________________________"} {
		d.cell(half, 5, label, "L", false, false)
		d.cell(half, 5, label, "L", false, false)
		p.Ln(8)
	}
	if err := p.Error(); err != nil {
		return nil, err
	}
	return d.drawn, p.Output(w)
}
