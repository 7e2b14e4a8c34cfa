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

// loadUnits fetches the org units with these codes that the caller sees.
func (r *resolver) loadUnits(codes []string) error {
	todo := missing(r.units, codes)
	for len(todo) > 0 {
		chunk := todo[:min(len(todo), planning.MaxPageSize)]
		todo = todo[len(chunk):]
		us, _, err := r.svcs.OrgUnits.FindOrgUnits(r.ctx, planning.OrgUnitFilter{Codes: chunk, Page: planning.PageRequest{Limit: planning.MaxPageSize}})
		if err != nil {
			return err
		}
		for _, u := range us {
			r.units[u.Code], r.unitIDs[u.ID] = u, u
		}
	}
	return nil
}

func (r *resolver) loadLines(codes []string) error {
	todo := missing(r.lines, codes)
	for len(todo) > 0 {
		chunk := todo[:min(len(todo), planning.MaxPageSize)]
		todo = todo[len(chunk):]
		ls, _, err := r.svcs.ProductLines.FindProductLines(r.ctx, planning.ProductLineFilter{Codes: chunk, Page: planning.PageRequest{Limit: planning.MaxPageSize}})
		if err != nil {
			return err
		}
		for _, l := range ls {
			r.lines[l.Code], r.lineIDs[l.ID] = l, l
		}
	}
	return nil
}

func (r *resolver) loadMeasures(codes []string) error {
	todo := missing(r.measures, codes)
	if len(todo) == 0 {
		return nil
	}
	ms, _, err := r.svcs.Measures.FindMeasures(r.ctx, planning.MeasureFilter{Codes: todo, Page: planning.PageRequest{Limit: planning.MaxPageSize}})
	if err != nil {
		return err
	}
	for _, m := range ms {
		r.measures[m.Code], r.measIDs[m.ID] = m, m
	}
	return nil
}

// loadIDs fetches the entities with these ids, for labelling responses.
func (r *resolver) loadIDs(unitIDs, lineIDs, measureIDs []int64) error {
	var needU, needL, needM []int64
	for _, id := range unitIDs {
		if _, ok := r.unitIDs[id]; !ok {
			needU = append(needU, id)
		}
	}
	for _, id := range lineIDs {
		if _, ok := r.lineIDs[id]; !ok {
			needL = append(needL, id)
		}
	}
	for _, id := range measureIDs {
		if _, ok := r.measIDs[id]; !ok {
			needM = append(needM, id)
		}
	}
	for _, chunk := range chunkIDs(needU) {
		us, _, err := r.svcs.OrgUnits.FindOrgUnits(r.ctx, planning.OrgUnitFilter{IDs: chunk, Page: planning.PageRequest{Limit: planning.MaxPageSize}})
		if err != nil {
			return err
		}
		for _, u := range us {
			r.units[u.Code], r.unitIDs[u.ID] = u, u
		}
	}
	for _, chunk := range chunkIDs(needL) {
		ls, _, err := r.svcs.ProductLines.FindProductLines(r.ctx, planning.ProductLineFilter{IDs: chunk, Page: planning.PageRequest{Limit: planning.MaxPageSize}})
		if err != nil {
			return err
		}
		for _, l := range ls {
			r.lines[l.Code], r.lineIDs[l.ID] = l, l
		}
	}
	for _, chunk := range chunkIDs(needM) {
		ms, _, err := r.svcs.Measures.FindMeasures(r.ctx, planning.MeasureFilter{IDs: chunk, Page: planning.PageRequest{Limit: planning.MaxPageSize}})
		if err != nil {
			return err
		}
		for _, m := range ms {
			r.measures[m.Code], r.measIDs[m.ID] = m, m
		}
	}
	return nil
}

func chunkIDs(ids []int64) [][]int64 {
	slices.Sort(ids)
	ids = slices.Compact(ids)
	var out [][]int64
	for len(ids) > 0 {
		n := min(len(ids), planning.MaxPageSize)
		out = append(out, ids[:n])
		ids = ids[n:]
	}
	return out
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
