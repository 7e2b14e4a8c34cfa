package planning

import (
	"context"
	"slices"
)

// LetterRequest asks for target letters from a version, the round's budget
// of record: the one letter of OrgUnit (a code), or, without it, a batch of
// the letters of every active unit of Level (every level when Level is
// ""), whose issue is recorded in the audit trail.
type LetterRequest struct {
	VersionID int64
	OrgUnit   string
	Level     OrgUnitKind
	// Format is pdf or xlsx; a pdf letter shows the scorecard of its
	// unit's level.
	Format string
	// MaxRows is the most grid rows one unit's letter may hold (ETOOLARGE
	// beyond).
	MaxRows int
}

// Letter is what one unit's target letter states.
type Letter struct {
	Version  *Version
	Round    *Round
	Record   *ApprovalRecord
	Unit     *OrgUnit
	Measures []*Measure
	Lines    map[int64]*ProductLine
	// Rows are the unit's own cells at month grain over the whole year.
	Rows []GridRow
	// Rollups are the unit's quarter-grain rows, by product line and
	// measure, of the measures that do not add up.
	Rollups map[[2]int64]GridRow
	// Scorecard is the scorecard of the unit's level (pdf only), if the
	// round has one.
	Scorecard *Scorecard
}

// LetterService gathers target letters.
type LetterService interface {
	// WriteLetters checks the request in the usual order (ENOTFOUND for
	// an unknown version; for a batch, EFORBIDDEN unless the caller is of
	// the strategy office or an administrator; ECONFLICT unless the
	// version is the budget of record; for one letter ENOTFOUND for a unit
	// unknown or outside the caller's scope; for a batch EINVALID for an
	// unknown level or format), then hands each letter to write, in tree
	// order, and for a batch records the issue once every letter is
	// written. It returns the version and its round (a batch may hold no
	// letter).
	WriteLetters(ctx context.Context, req LetterRequest, write func(*Letter) error) (*Version, *Round, error)
}

// NewLetterService gathers letters through svcs.
func NewLetterService(svcs Services) LetterService { return letterService{svcs} }

type letterService struct{ svcs Services }

func (s letterService) WriteLetters(ctx context.Context, req LetterRequest, write func(*Letter) error) (*Version, *Round, error) {
	v, r, err := s.writeLetters(ctx, req, write)
	if err != nil {
		return nil, nil, err
	}
	return v, r, nil
}

func (s letterService) writeLetters(ctx context.Context, req LetterRequest, write func(*Letter) error) (v *Version, r *Round, err error) {
	batch := req.OrgUnit == ""
	refs := Refs{VersionID: req.VersionID, RoundMeasures: true}
	if !batch {
		refs.UnitCodes = []string{req.OrgUnit}
	}
	got, err := s.svcs.Resolve.Resolve(ctx, refs)
	if err != nil {
		return nil, nil, err
	}
	v, r = got.Version, got.Round
	var units []*OrgUnit
	if !batch {
		i := slices.IndexFunc(got.Units, func(u *OrgUnit) bool { return u.Code == req.OrgUnit })
		if i < 0 {
			return nil, nil, Errorf(ENOTFOUND, "org unit %s not found", req.OrgUnit)
		}
		units = []*OrgUnit{got.Units[i]}
	} else if a := ActorFromContext(ctx); a == nil || !a.HasRole(RoleStrategyOffice, RoleAdmin) {
		return nil, nil, Errorf(EFORBIDDEN, "only the strategy office and administrators issue target letters")
	}
	rec, err := s.svcs.ApprovalRecords.FindApprovalRecord(ctx, v.ID)
	if err != nil {
		return nil, nil, err
	}
	if !rec.Record {
		return nil, nil, Errorf(ECONFLICT, "version %d is not the budget of record of round %s: target letters are issued from the approved version", v.ID, r.Code)
	}
	if batch {
		var val Validation
		if req.Level != "" && !req.Level.Valid() {
			val.Add("level", "must be one of %v", OrgUnitKinds)
		}
		if req.Format != "pdf" && req.Format != "xlsx" {
			val.Add("format", "must be pdf or xlsx")
		}
		if err := val.Err(); err != nil {
			return nil, nil, err
		}
		active := true
		if units, err = CollectPages(func(page PageRequest) ([]*OrgUnit, string, error) {
			return s.svcs.OrgUnits.FindOrgUnits(ctx, OrgUnitFilter{Kind: req.Level, Active: &active, Page: page})
		}); err != nil {
			return nil, nil, err
		}
	}
	lines := map[int64]*ProductLine{}
	measures := map[int64]*Measure{}
	for _, m := range got.Measures {
		measures[m.ID] = m
	}
	cards := map[OrgUnitKind]*Scorecard{}
	for _, unit := range units {
		rows, err := s.wholeGrid(ctx, GridFilter{VersionID: v.ID, OrgUnitID: &unit.ID, Grain: GrainMonth}, req.MaxRows)
		if err != nil {
			return nil, nil, err
		}
		var need Refs
		for _, row := range rows {
			if lines[row.ProductLineID] == nil {
				need.LineIDs = append(need.LineIDs, row.ProductLineID)
			}
		}
		if len(need.LineIDs) > 0 {
			found, err := s.svcs.Resolve.Resolve(ctx, need)
			if err != nil {
				return nil, nil, err
			}
			for _, l := range found.Lines {
				lines[l.ID] = l
			}
		}
		l := &Letter{Version: v, Round: r, Record: rec, Unit: unit, Lines: lines, Rows: rows}
		var others []int64
		for _, mid := range r.MeasureIDs {
			if m := measures[mid]; m != nil {
				l.Measures = append(l.Measures, m)
				if !m.IsSum() {
					others = append(others, m.ID)
				}
			}
		}
		if len(others) > 0 {
			// Quarters and the year of rates, levels and ratings follow
			// their aggregation rule, as the target grid rolls them up.
			qs, err := s.wholeGrid(ctx, GridFilter{VersionID: v.ID, OrgUnitID: &unit.ID, MeasureIDs: others, Grain: GrainQuarter}, req.MaxRows)
			if err != nil {
				return nil, nil, err
			}
			l.Rollups = make(map[[2]int64]GridRow, len(qs))
			for _, q := range qs {
				l.Rollups[[2]int64{q.ProductLineID, q.MeasureID}] = q
			}
		}
		if req.Format == "pdf" {
			card, seen := cards[unit.Kind]
			if !seen {
				card, err = s.svcs.Scorecards.FindScorecard(ctx, r.ID, unit.Kind)
				if err != nil {
					if ErrorCode(err) != ENOTFOUND {
						return nil, nil, err
					}
					card = nil
				}
				cards[unit.Kind] = card
			}
			l.Scorecard = card
		}
		if err := write(l); err != nil {
			return nil, nil, err
		}
	}
	if batch {
		if err := s.svcs.ApprovalRecords.RecordLettersIssued(ctx, v.ID, units, req.Format); err != nil {
			return nil, nil, err
		}
	}
	return v, r, nil
}

// wholeGrid reads every row of a grid view, up to max.
func (s letterService) wholeGrid(ctx context.Context, f GridFilter, max int) ([]GridRow, error) {
	var out []GridRow
	for row, err := range AllPages(func(page PageRequest) ([]GridRow, string, error) {
		f.Page = page
		return s.svcs.Targets.FindGrid(ctx, f)
	}) {
		if err != nil {
			return nil, err
		}
		if out = append(out, row); max > 0 && len(out) > max {
			return nil, Errorf(ETOOLARGE, "the view has more than %d rows: narrow it by org unit, product line or measure", max)
		}
	}
	return out, nil
}
