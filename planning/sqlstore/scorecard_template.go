package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/planning"
)

type scorecardTemplateRow struct {
	bun.BaseModel `bun:"table:scorecard_templates"`
	Level         string    `bun:"level,pk" json:"level"`
	Name          string    `bun:"name" json:"name"`
	KPIs          string    `bun:"kpis" json:"kpis"`
	Rounding      string    `bun:"rounding" json:"rounding"`
	UpdatedAt     time.Time `bun:"updated_at" json:"updated_at"`
}

// templateKPIDoc is a template's KPI as stored: by codes.
type templateKPIDoc struct {
	Measure      string    `json:"measure"`
	ProductLines []string  `json:"product_lines,omitempty"`
	Label        string    `json:"label,omitempty"`
	Weight       string    `json:"weight"`
	Direction    string    `json:"direction"`
	Curve        string    `json:"curve"`
	FloorPct     string    `json:"floor_pct,omitempty"`
	CapPct       string    `json:"cap_pct,omitempty"`
	Steps        []stepDoc `json:"steps,omitempty"`
}

func encodeTemplate(t *planning.ScorecardTemplate) *scorecardTemplateRow {
	docs := make([]templateKPIDoc, len(t.KPIs))
	for i, k := range t.KPIs {
		d := templateKPIDoc{Measure: k.MeasureCode, ProductLines: k.ProductLineCodes, Label: k.Label, Weight: k.Weight.String(),
			Direction: string(k.Direction), Curve: string(k.Curve.Kind)}
		if k.Curve.Kind == planning.CurveLinear {
			d.FloorPct, d.CapPct = k.Curve.FloorPct.String(), k.Curve.CapPct.String()
		}
		for _, st := range k.Curve.Steps {
			d.Steps = append(d.Steps, stepDoc{MinPct: st.MinPct.String(), Points: st.Points.String()})
		}
		docs[i] = d
	}
	b, _ := json.Marshal(docs)
	r, _ := json.Marshal(roundingDoc{Places: t.Rounding.Places, Mode: string(t.Rounding.Mode)})
	return &scorecardTemplateRow{Level: string(t.Level), Name: t.Name, KPIs: string(b), Rounding: string(r)}
}

func (r *scorecardTemplateRow) toDomain() (planning.ScorecardTemplate, error) {
	t := planning.ScorecardTemplate{Level: planning.OrgUnitKind(r.Level), Name: r.Name}
	var docs []templateKPIDoc
	var rd roundingDoc
	if err := json.Unmarshal([]byte(r.KPIs), &docs); err != nil {
		return t, fmt.Errorf("scorecard template %s: %w", r.Level, err)
	}
	if err := json.Unmarshal([]byte(r.Rounding), &rd); err != nil {
		return t, fmt.Errorf("scorecard template %s: %w", r.Level, err)
	}
	t.Rounding = planning.Rounding{Places: rd.Places, Mode: planning.RoundingMode(rd.Mode)}
	dec := func(s string) decimal.Decimal {
		if s == "" {
			return decimal.Zero
		}
		d, _ := decimal.NewFromString(s)
		return d
	}
	for _, d := range docs {
		k := planning.KPITemplate{MeasureCode: d.Measure, ProductLineCodes: d.ProductLines, Label: d.Label, Weight: dec(d.Weight),
			Direction: planning.Direction(d.Direction), Curve: planning.Curve{Kind: planning.CurveKind(d.Curve), FloorPct: dec(d.FloorPct), CapPct: dec(d.CapPct)}}
		for _, st := range d.Steps {
			k.Curve.Steps = append(k.Curve.Steps, planning.Step{MinPct: dec(st.MinPct), Points: dec(st.Points)})
		}
		t.KPIs = append(t.KPIs, k)
	}
	return t, nil
}

// FindScorecardTemplates implements planning.ScorecardService.
func (s *ScorecardService) FindScorecardTemplates(ctx context.Context) ([]planning.ScorecardTemplate, error) {
	if _, err := planning.RequireActor(ctx); err != nil {
		return nil, err
	}
	return s.db.scorecardTemplates(ctx, s.db.bun)
}

func (db *DB) scorecardTemplates(ctx context.Context, idb bun.IDB) ([]planning.ScorecardTemplate, error) {
	var rows []scorecardTemplateRow
	if err := idb.NewSelect().Model(&rows).OrderExpr("level").Scan(ctx); err != nil {
		return nil, db.mapError(err)
	}
	out := make([]planning.ScorecardTemplate, 0, len(rows))
	for i := range rows {
		t, err := rows[i].toDomain()
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// SetScorecardTemplates implements planning.ScorecardService.
func (s *ScorecardService) SetScorecardTemplates(ctx context.Context, templates []planning.ScorecardTemplate) error {
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return err
	}
	if err := a.MaySetScorecardTemplates(); err != nil {
		return err
	}
	seen := map[planning.OrgUnitKind]bool{}
	for i := range templates {
		if err := templates[i].Validate(); err != nil {
			return err
		}
		if seen[templates[i].Level] {
			return fieldErr(planning.EINVALID, fmt.Sprintf("templates[%d].level", i), "names level %s twice", templates[i].Level)
		}
		seen[templates[i].Level] = true
	}
	return s.db.inTx(ctx, func(tx bun.Tx) error {
		var before []scorecardTemplateRow
		if err := tx.NewSelect().Model(&before).OrderExpr("level").Scan(ctx); err != nil {
			return s.db.mapError(err)
		}
		if _, err := tx.NewDelete().Model((*scorecardTemplateRow)(nil)).Where("1 = 1").Exec(ctx); err != nil {
			return s.db.mapError(err)
		}
		now := s.db.Now()
		var rows []*scorecardTemplateRow
		for i := range templates {
			row := encodeTemplate(&templates[i])
			row.UpdatedAt = now
			if _, err := tx.NewInsert().Model(row).Exec(ctx); err != nil {
				return s.db.mapError(err)
			}
			rows = append(rows, row)
		}
		return s.db.writeAudit(ctx, tx, "scorecard_templates.set", "scorecard_templates", 0,
			map[string]any{"templates": before}, map[string]any{"templates": rows})
	})
}
