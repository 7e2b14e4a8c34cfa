package api

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/cascade-planning/cascade/planning"
)

// resolver turns the codes a request names (org units, product lines,
// measures) into ids, and ids back into codes for responses, with one query
// per kind however many cells a request carries. Unknown codes, and org
// units outside the caller's scope, are reported per field.
type resolver struct {
	svcs     planning.Services
	ctx      context.Context
	units    map[string]*planning.OrgUnit
	unitIDs  map[int64]*planning.OrgUnit
	lines    map[string]*planning.ProductLine
	lineIDs  map[int64]*planning.ProductLine
	measures map[string]*planning.Measure
	measIDs  map[int64]*planning.Measure
	val      planning.Validation
	// versionID, when set, is the version the request is about: the next
	// load looks it up (and its round) with the codes, into version and
	// round.
	versionID int64
	version   *planning.Version
	round     *planning.Round
	// roundID, when set (and versionID is not), is the round the request
	// is about: the next load looks it up with the codes, into round.
	roundID int64
}

// newVersionResolver is a resolver for a request about version id: its
// first load looks the version and its round up with the codes.
func newVersionResolver(ctx context.Context, svcs planning.Services, id int64) *resolver {
	r := newResolver(ctx, svcs)
	r.versionID = id
	return r
}

// newRoundResolver is a resolver for a request about round id: its first
// load looks the round up with the codes (ENOTFOUND when there is none).
func newRoundResolver(ctx context.Context, svcs planning.Services, id int64) *resolver {
	r := newResolver(ctx, svcs)
	r.roundID = id
	return r
}

// loadRound looks up the resolver's round with the codes refs names, and
// returns the round.
func (r *resolver) loadRound(refs planning.Refs) (*planning.Round, error) {
	if _, err := r.load(refs); err != nil {
		return nil, err
	}
	return r.round, nil
}

func newResolver(ctx context.Context, svcs planning.Services) *resolver {
	return &resolver{svcs: svcs, ctx: ctx,
		units: map[string]*planning.OrgUnit{}, unitIDs: map[int64]*planning.OrgUnit{},
		lines: map[string]*planning.ProductLine{}, lineIDs: map[int64]*planning.ProductLine{},
		measures: map[string]*planning.Measure{}, measIDs: map[int64]*planning.Measure{}}
}

// missing returns the codes not loaded yet that could name something: a
// code that is not plain text (see plainText) names nothing, and is left
// for the caller to report as unknown rather than sent to the database.
func missing[V any](m map[string]V, codes []string) []string {
	var out []string
	for _, c := range codes {
		if _, ok := m[c]; !ok && c != "" && plainText(c) {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// load looks up, in one service call, what refs names that is not loaded
// yet (and the version refs names, with its round), and keeps it for unit,
// line, measure and the code lookups.
func (r *resolver) load(refs planning.Refs) (*planning.Resolved, error) {
	if refs.VersionID == 0 {
		refs.VersionID = r.versionID
	}
	if r.version != nil && refs.VersionID == r.version.ID {
		refs.VersionID = 0
	}
	if refs.VersionID == 0 && refs.RoundID == 0 && r.round == nil {
		refs.RoundID = r.roundID
	}
	refs.UnitCodes, refs.LineCodes, refs.MeasureCodes = missing(r.units, refs.UnitCodes), missing(r.lines, refs.LineCodes), missing(r.measures, refs.MeasureCodes)
	refs.UnitIDs, refs.LineIDs, refs.MeasureIDs = missingIDs(r.unitIDs, refs.UnitIDs), missingIDs(r.lineIDs, refs.LineIDs), missingIDs(r.measIDs, refs.MeasureIDs)
	if refs.VersionID == 0 && refs.RoundID == 0 && refs.RoundCode == "" && refs.CounterproposalID == 0 && len(refs.UnitCodes)+len(refs.LineCodes)+len(refs.MeasureCodes)+len(refs.UnitIDs)+len(refs.LineIDs)+len(refs.MeasureIDs)+len(refs.ProfileCodes)+len(refs.ProfileIDs) == 0 {
		return &planning.Resolved{}, nil
	}
	got, err := r.svcs.Resolve.Resolve(r.ctx, refs)
	if err != nil {
		return nil, err
	}
	if got.Version != nil && (r.versionID == 0 || got.Version.ID == r.versionID) {
		r.versionID, r.version, r.round = got.Version.ID, got.Version, got.Round
	} else if got.Version == nil && got.Round != nil && got.Round.ID == r.roundID {
		r.round = got.Round
	}
	for _, u := range got.Units {
		r.units[u.Code], r.unitIDs[u.ID] = u, u
	}
	for _, l := range got.Lines {
		r.lines[l.Code], r.lineIDs[l.ID] = l, l
	}
	for _, m := range got.Measures {
		r.measures[m.Code], r.measIDs[m.ID] = m, m
	}
	return got, nil
}

// missingIDs returns the ids not loaded yet.
func missingIDs[V any](m map[int64]V, ids []int64) []int64 {
	var out []int64
	for _, id := range ids {
		if _, ok := m[id]; !ok {
			out = append(out, id)
		}
	}
	return out
}

// loadUnits fetches the org units with these codes that the caller sees.
func (r *resolver) loadUnits(codes []string) error {
	_, err := r.load(planning.Refs{UnitCodes: codes})
	return err
}

func (r *resolver) loadLines(codes []string) error {
	_, err := r.load(planning.Refs{LineCodes: codes})
	return err
}

func (r *resolver) loadMeasures(codes []string) error {
	_, err := r.load(planning.Refs{MeasureCodes: codes})
	return err
}

// loadIDs fetches the entities with these ids, for labelling responses.
func (r *resolver) loadIDs(unitIDs, lineIDs, measureIDs []int64) error {
	_, err := r.load(planning.Refs{UnitIDs: unitIDs, LineIDs: lineIDs, MeasureIDs: measureIDs})
	return err
}

// unit returns the id of the org unit code names, recording a field error
// for an unknown (or invisible) one.
func (r *resolver) unit(field, code string) int64 {
	if u, ok := r.units[code]; ok {
		return u.ID
	}
	r.fail(field, code, "org unit")
	return 0
}

func (r *resolver) line(field, code string) int64 {
	if l, ok := r.lines[code]; ok {
		return l.ID
	}
	r.fail(field, code, "product line")
	return 0
}

func (r *resolver) measure(field, code string) *planning.Measure {
	if m, ok := r.measures[code]; ok {
		return m
	}
	r.fail(field, code, "measure")
	return nil
}

func (r *resolver) fail(field, code, what string) {
	if code == "" {
		r.val.Add(field, "is required")
	} else {
		r.val.Add(field, "no %s with code %q", what, code)
	}
}

// err returns the collected field errors (422), or nil.
func (r *resolver) err() error { return r.val.Err() }

func (r *resolver) unitCode(id int64) string {
	if u, ok := r.unitIDs[id]; ok {
		return u.Code
	}
	return ""
}

// unitPath returns the path of a loaded unit, or "" for one not loaded.
func (r *resolver) unitPath(id int64) string {
	if u, ok := r.unitIDs[id]; ok {
		return u.Path
	}
	return ""
}

func (r *resolver) lineCode(id int64) string {
	if l, ok := r.lineIDs[id]; ok {
		return l.Code
	}
	return ""
}

func (r *resolver) measureOf(id int64) *planning.Measure { return r.measIDs[id] }

// codesList splits a comma-separated query value into codes.
func codesList(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	for _, c := range strings.Split(s, ",") {
		if c = strings.TrimSpace(c); c != "" {
			out = append(out, c)
		}
	}
	return out
}

// parsePeriods reads a period filter: one month "2027-04", a range
// "2027-04..2027-09", or a fiscal quarter "Q1" … "Q4".
func parsePeriods(r *planning.Round, s string) (from, to int, err error) {
	if s == "" {
		return 0, 0, nil
	}
	if len(s) == 2 && s[0] == 'Q' && s[1] >= '1' && s[1] <= '4' {
		q := int(s[1] - '0')
		return q*3 - 2, q * 3, nil
	}
	a, b, isRange := strings.Cut(s, "..")
	if !isRange {
		b = a
	}
	if from, err = r.PeriodOf(a); err != nil {
		return 0, 0, fmt.Errorf("%s", err)
	}
	if to, err = r.PeriodOf(b); err != nil {
		return 0, 0, fmt.Errorf("%s", err)
	}
	if from > to {
		return 0, 0, fmt.Errorf("the range ends before it starts")
	}
	return from, to, nil
}
