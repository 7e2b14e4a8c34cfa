package spreadsheet

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/cascade-planning/cascade/planning"
)

// Sheets of a diff workbook.
const (
	DiffChangesSheet = "Changes"
	DiffUnitsSheet   = "By org unit"
)

// DiffView is the difference between two versions to export: the round, the
// two versions, the filters it was taken with (in words), when and by whom,
// the names of what the cells name, every changed cell, and each org unit's
// own change.
type DiffView struct {
	Round      *planning.Round
	Version    *planning.Version
	Against    *planning.Version
	Filters    string
	ExportedAt time.Time
	ExportedBy string
	Units      map[int64]*planning.OrgUnit
	Lines      map[int64]*planning.ProductLine
	Measures   map[int64]*planning.Measure
	Changes    []planning.CellChange
	ByOrgUnit  []planning.DiffRollup
	// NotSummed are the measures whose changes ByOrgUnit leaves out: they
	// do not add up.
	NotSummed []planning.DiffNotSummed
}

// WriteDiffXLSX writes the diff as a workbook made for people: a sheet of
// every changed cell (org unit, its level, product line, measure, month,
// before, after and change, at the measure's scale) and a sheet of each
// org unit's own change by level, both with the versions compared on top
// and the headings frozen. Org tree levels are never added together: each
// level holds its own cells. The org unit sheet sums the measures that
// add up only; the measures that do not (rates, levels, ratings) are
// named on top and their changes are on the first sheet, cell by cell.
func WriteDiffXLSX(w io.Writer, v *DiffView) error {
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", DiffChangesSheet); err != nil {
		return err
	}
	if _, err := f.NewSheet(DiffUnitsSheet); err != nil {
		return err
	}
	st, err := newStyles(f)
	if err != nil {
		return err
	}
	unitName := func(id int64) (code, name string, level int) {
		u := v.Units[id]
		if u == nil {
			return fmt.Sprint(id), "", 0
		}
		name = u.Name
		if u.NameLocal != "" {
			name += " " + u.NameLocal
		}
		return u.Code, name, u.Depth()
	}
	head := []string{
		fmt.Sprintf("%s (%s): version %d against version %d", v.Round.Name, v.Round.Code, v.Version.Number, v.Against.Number),
		fmt.Sprintf("Before: version %d (%s); after: version %d (%s). A missing cell counts as zero. %s", v.Against.Number, v.Against.Status, v.Version.Number, v.Version.Status, v.Filters),
		fmt.Sprintf("Exported %s by %s. Every org level holds its own cells: levels are not added together.", v.ExportedAt.UTC().Format("2006-01-02 15:04 UTC"), v.ExportedBy) + notSummedWords(v),
	}
	// Scales: the widest among the measures, for the unit sheet whose
	// rows may mix measures when no measure filter was given.
	wide := int32(0)
	for _, m := range v.Measures {
		wide = max(wide, m.Scale)
	}
	sheets := []struct {
		name   string
		header []string
		widths []float64
		rows   func(sw *excelize.StreamWriter, first int) error
	}{
		{DiffChangesSheet, []string{"Org unit", "Name", "Level", "Product line", "Measure", "Month", "Before", "After", "Change"},
			[]float64{14, 30, 7, 14, 14, 10, 16, 16, 16},
			func(sw *excelize.StreamWriter, first int) error {
				for i, ch := range v.Changes {
					code, name, level := unitName(ch.OrgUnitID)
					m := v.Measures[ch.MeasureID]
					scale, mcode := int32(2), fmt.Sprint(ch.MeasureID)
					if m != nil {
						scale, mcode = m.Scale, m.Code
					}
					num, err := st.amount(scale, false)
					if err != nil {
						return err
					}
					line := fmt.Sprint(ch.ProductLineID)
					if l := v.Lines[ch.ProductLineID]; l != nil {
						line = l.Code
					}
					if err := sw.SetRow(cellRef(1, first+i), []any{code, name, level, line, mcode, v.Round.MonthLabel(ch.Period),
						excelize.Cell{Value: float(ch.Before), StyleID: num}, excelize.Cell{Value: float(ch.After), StyleID: num},
						excelize.Cell{Value: float(ch.Delta), StyleID: num}}); err != nil {
						return err
					}
				}
				return nil
			}},
		{DiffUnitsSheet, []string{"Level", "Org unit", "Name", "Before", "After", "Change"},
			[]float64{7, 14, 30, 16, 16, 16},
			func(sw *excelize.StreamWriter, first int) error {
				num, err := st.amount(wide, false)
				if err != nil {
					return err
				}
				for i, r := range v.ByOrgUnit {
					code, name, _ := unitName(r.Key)
					if err := sw.SetRow(cellRef(1, first+i), []any{r.Level, code, name,
						excelize.Cell{Value: float(r.Before), StyleID: num}, excelize.Cell{Value: float(r.After), StyleID: num},
						excelize.Cell{Value: float(r.Delta), StyleID: num}}); err != nil {
						return err
					}
				}
				return nil
			}},
	}
	const headerAt = 5
	for _, s := range sheets {
		// Landscape, fitted to the page width, the headings on every page.
		if err := printSetup(f, s.name, headerAt, headerAt); err != nil {
			return err
		}
		sw, err := f.NewStreamWriter(s.name)
		if err != nil {
			return err
		}
		for i, wd := range s.widths {
			if err := sw.SetColWidth(i+1, i+1, wd); err != nil {
				return err
			}
		}
		if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: headerAt, TopLeftCell: cellRef(1, headerAt+1), ActivePane: "bottomLeft"}); err != nil {
			return err
		}
		for i, line := range head {
			style := st.note
			if i == 0 {
				style = st.title
			}
			if err := sw.SetRow(cellRef(1, i+1), []any{excelize.Cell{Value: safeText(line), StyleID: style}}); err != nil {
				return err
			}
		}
		hdr := make([]any, len(s.header))
		for i, x := range s.header {
			hdr[i] = excelize.Cell{Value: x, StyleID: st.header}
		}
		if err := sw.SetRow(cellRef(1, headerAt), hdr); err != nil {
			return err
		}
		if err := s.rows(sw, headerAt+1); err != nil {
			return err
		}
		if err := sw.Flush(); err != nil {
			return err
		}
	}
	return f.Write(w)
}

// notSummedWords names the measures whose changes the org unit sheet does
// not sum, or says nothing when there are none.
func notSummedWords(v *DiffView) string {
	if len(v.NotSummed) == 0 {
		return ""
	}
	var names []string
	for _, x := range v.NotSummed {
		code := fmt.Sprint(x.MeasureID)
		if m := v.Measures[x.MeasureID]; m != nil {
			code = m.Code
		}
		names = append(names, fmt.Sprintf("%s (%s, %d changed cells)", code, x.Aggregation, x.ChangedCells))
	}
	return " Not added up, listed cell by cell only: " + strings.Join(names, ", ") + "."
}
