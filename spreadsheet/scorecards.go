package spreadsheet

import (
	"fmt"
	"io"
	"strings"

	"github.com/xuri/excelize/v2"

	"github.com/cascade-planning/cascade/planning"
)

// ScorecardsSheet is the name of the scorecard definitions workbook's one
// sheet.
const ScorecardsSheet = "Scorecards"

// scorecardColumns are the definition workbook's columns, one KPI a row.
var scorecardColumns = []struct {
	title string
	width float64
}{
	{"Level 层级", 18}, {"Scorecard 考核表", 30}, {"#", 4}, {"KPI 指标", 40}, {"Measure 指标项", 20},
	{"Aggregation 汇总", 16}, {"Key product lines 重点产品", 20}, {"Weight % 权重", 12}, {"Direction 方向", 12},
	{"Curve 计分", 9}, {"Floor % 下限", 11}, {"Cap % 上限", 11}, {"Steps (min % → points) 阶梯", 40},
	{"Rounding places 小数位", 12}, {"Rounding mode 舍入", 12},
}

// WriteScorecards writes a round's scorecard definitions as a one-sheet
// workbook: per level, each KPI with its measure (and how the measure
// aggregates), key product lines, weight, direction, curve and the
// scorecard's rounding rule, and a weight total per level. It prints
// landscape, fitted to the page width, the column names repeated on every
// page. measures gives each measure's aggregation by id (optional).
func WriteScorecards(w io.Writer, r *planning.Round, cards []*planning.Scorecard, measures map[int64]*planning.Measure) error {
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", ScorecardsSheet); err != nil {
		return err
	}
	st, err := newStyles(f)
	if err != nil {
		return err
	}
	// The column names are the 4th row, after two title rows and a blank.
	const headerRow = 4
	if err := printSetup(f, ScorecardsSheet, headerRow, headerRow); err != nil {
		return err
	}
	sw, err := f.NewStreamWriter(ScorecardsSheet)
	if err != nil {
		return err
	}
	for i, c := range scorecardColumns {
		if err := sw.SetColWidth(i+1, i+1, c.width); err != nil {
			return err
		}
	}
	row := 0
	put := func(vals ...any) error {
		row++
		return sw.SetRow(cellRef(1, row), vals)
	}
	if err := put(excelize.Cell{Value: fmt.Sprintf("Scorecards 考核表: round %s %s, fiscal year %d", r.Code, r.Name, r.FiscalYear), StyleID: st.title}); err != nil {
		return err
	}
	if err := put(excelize.Cell{Value: "Attainment = actual ÷ target × 100 (lower is better: (2 × target − actual) ÷ target × 100), 2 places half to even; " +
		"points by the curve; score = Σ points × weight ÷ 100, rounded by the scorecard's rule.", StyleID: st.note}); err != nil {
		return err
	}
	row++
	header := make([]any, len(scorecardColumns))
	for i, c := range scorecardColumns {
		header[i] = excelize.Cell{Value: c.title, StyleID: st.header}
	}
	if err := put(header...); err != nil {
		return err
	}
	if row != headerRow {
		return fmt.Errorf("scorecards sheet: the column names are on row %d, not the %d the print titles repeat", row, headerRow)
	}
	for _, card := range cards {
		for i, k := range card.KPIs {
			agg := ""
			if m := measures[k.MeasureID]; m != nil {
				agg = string(m.Agg())
			}
			var floor, capPct, steps any = "", "", ""
			if k.Curve.Kind == planning.CurveLinear {
				floor, capPct = k.Curve.FloorPct.String(), k.Curve.CapPct.String()
			} else {
				parts := make([]string, len(k.Curve.Steps))
				for j, s := range k.Curve.Steps {
					parts[j] = fmt.Sprintf("%s → %s", s.MinPct, s.Points)
				}
				steps = strings.Join(parts, "; ")
			}
			if err := put(string(card.Level), card.Name, i+1, k.Label, k.MeasureCode, agg, strings.Join(k.ProductLineCodes, ", "),
				k.Weight.String(), string(k.Direction), string(k.Curve.Kind), floor, capPct, steps,
				int(card.Rounding.Places), string(card.Rounding.Mode)); err != nil {
				return err
			}
		}
		sum := "0"
		if len(card.KPIs) > 0 {
			total := card.KPIs[0].Weight
			for _, k := range card.KPIs[1:] {
				total = total.Add(k.Weight)
			}
			sum = total.String()
		}
		if err := put(excelize.Cell{Value: string(card.Level), StyleID: st.note}, excelize.Cell{Value: "Total weight 权重合计", StyleID: st.note},
			"", "", "", "", "", excelize.Cell{Value: sum, StyleID: st.header}); err != nil {
			return err
		}
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	return f.Write(w)
}
