package planning

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
)

// Scope is what one actor may read: the whole org tree, or the subtrees of
// their scoped roles (branch managers, team leads). Every read that returns
// data about org units passes its payload through the Scope's Redact
// methods, one per payload type, so a field that names a unit outside the
// scope (an ancestor's id in a path, a run's root and amounts above the
// scope, a sibling's cell in an audit event) never leaves the service,
// whichever handler or adapter asks.
//
// Product lines are not read-scoped: a product manager writes only the
// lines they own, but reads the whole plan, as the directors do, because
// they submit the whole version to the approval chain and their decisions
// rebalance across the tree. VisibleProductLine says so in one place.
type Scope struct {
	all   bool
	roots []string       // the materialized paths of the subtrees read
	units map[int64]bool // every unit in those subtrees
}

// FullScope is the scope of an actor who reads everything.
func FullScope() *Scope { return &Scope{all: true} }

// SubtreeScope is the scope of an actor who reads the subtrees at roots
// (materialized paths); units lists the ids of every unit in them.
func SubtreeScope(roots []string, units []int64) *Scope {
	s := &Scope{roots: slices.Clone(roots), units: make(map[int64]bool, len(units))}
	for _, id := range units {
		s.units[id] = true
	}
	return s
}

// All reports whether the scope is the whole tree.
func (s *Scope) All() bool { return s.all }

// VisibleOrgUnit reports whether the unit with this id is in the scope.
func (s *Scope) VisibleOrgUnit(id int64) bool { return s.all || s.units[id] }

// VisibleOrgPath reports whether the unit at this materialized path is in
// the scope.
func (s *Scope) VisibleOrgPath(path string) bool {
	if s.all {
		return true
	}
	for _, r := range s.roots {
		if strings.HasPrefix(path, r) {
			return true
		}
	}
	return false
}

// VisibleProductLine reports whether the product line is in the scope.
// Reads are not scoped by product line (see Scope).
func (s *Scope) VisibleProductLine(int64) bool { return true }

// Touches reports whether a subtree rooted at the unit with this path holds
// any unit of the scope: the unit itself is visible, or it is an ancestor
// of a scope root.
func (s *Scope) Touches(path string) bool {
	if s.VisibleOrgPath(path) {
		return true
	}
	for _, r := range s.roots {
		if strings.HasPrefix(r, path) {
			return true
		}
	}
	return false
}

// ScopedPath is a materialized path as the scope shows it: from the scope
// root that holds the unit down, so the ids of the ancestors above the
// scope do not show. A path outside the scope becomes "".
func (s *Scope) ScopedPath(path string) string {
	if s.all {
		return path
	}
	for _, r := range s.roots {
		if strings.HasPrefix(path, r) {
			// r is "/…/root/": keep "/root/" and what follows.
			cut := strings.LastIndex(strings.TrimSuffix(r, "/"), "/")
			return path[cut:]
		}
	}
	return ""
}

// FullPath undoes ScopedPath: the materialized path of the unit the
// scope shows at scoped, or "" when no scope root starts it.
func (s *Scope) FullPath(scoped string) string {
	if s.all {
		return scoped
	}
	for _, r := range s.roots {
		cut := strings.LastIndex(strings.TrimSuffix(r, "/"), "/")
		if strings.HasPrefix(scoped, r[cut:]) {
			return r[:cut] + scoped
		}
	}
	return ""
}

// RedactOrgUnit hides the parent of a scope root and the ancestors in its
// path. It goes by the unit's path alone (the parent's path is the unit's
// without its last id), so it needs no list of the scope's units.
func (s *Scope) RedactOrgUnit(u *OrgUnit) {
	if s.all || u == nil {
		return
	}
	if u.ParentID != nil && !s.VisibleOrgPath(ParentPath(u.Path)) {
		u.ParentID = nil
	}
	u.Path = s.ScopedPath(u.Path)
}

// ParentPath is the materialized path of the parent of the unit at path.
func ParentPath(path string) string {
	p := strings.TrimSuffix(path, "/")
	return p[:strings.LastIndex(p, "/")+1]
}

// RedactAllocationRun keeps what the scope may see of a run: a run that
// started above the scope loses its root (RootID 0) and the amounts given
// at the root (the company's or a region's totals, zeroed); locks, weights
// and manual amounts of units outside the scope go, and so do explanations
// of units outside it. Redacted says something was withheld.
func (s *Scope) RedactAllocationRun(run *AllocationRun) {
	if s.all || run == nil {
		return
	}
	rq := &run.Request
	hidden := false
	if rq.RootID != 0 && !s.VisibleOrgUnit(rq.RootID) {
		rq.RootID = 0
		targets := make([]AllocationTarget, len(rq.Targets))
		for i, t := range rq.Targets {
			targets[i] = AllocationTarget{ProductLineID: t.ProductLineID}
		}
		rq.Targets, hidden = targets, true
	}
	n := len(rq.Locks)
	rq.Locks = slices.DeleteFunc(slices.Clone(rq.Locks), func(id int64) bool { return !s.VisibleOrgUnit(id) })
	hidden = hidden || len(rq.Locks) != n
	levels := make([]LevelSpec, len(rq.Levels))
	for i, l := range rq.Levels {
		var hw, hm bool
		l.Weights, hw = s.visibleAmounts(l.Weights)
		l.Manual, hm = s.visibleAmounts(l.Manual)
		levels[i], hidden = l, hidden || hw || hm
	}
	rq.Levels = levels
	run.Explanation = slices.DeleteFunc(run.Explanation, func(e NodeExplanation) bool { return !s.VisibleOrgUnit(e.OrgUnitID) })
	run.Redacted = run.Redacted || hidden
}

// visibleAmounts returns the entries of m for units in the scope, and
// whether any was dropped.
func (s *Scope) visibleAmounts(m map[int64]decimal.Decimal) (map[int64]decimal.Decimal, bool) {
	if m == nil {
		return nil, false
	}
	out := make(map[int64]decimal.Decimal, len(m))
	for id, v := range m {
		if s.VisibleOrgUnit(id) {
			out[id] = v
		}
	}
	return out, len(out) != len(m)
}

// RedactAuditEvent rewrites an event's before and after for the scope.
// They are the stored rows of the entity, so the redaction goes by the
// field names the store writes: a list entry about a unit outside the
// scope (a cell of a sibling or an ancestor changed by a decision) is
// dropped; a parent_id, root_id or org_unit_id outside it becomes null;
// locks outside it go; a materialized path is shown from the scope root.
func (s *Scope) RedactAuditEvent(e *AuditEvent) {
	if s.all || e == nil {
		return
	}
	e.Before = s.redactJSON(e.Before)
	e.After = s.redactJSON(e.After)
}

func (s *Scope) redactJSON(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return raw
	}
	d := json.NewDecoder(strings.NewReader(string(raw)))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		// Not JSON: nothing can be shown of it safely.
		return nil
	}
	out, err := json.Marshal(s.redactValue(v))
	if err != nil {
		return nil
	}
	return out
}

// unitIDOf returns the number v holds, if it is one.
func unitIDOf(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(string(n), 10, 64)
	return id, err == nil
}

func (s *Scope) redactValue(v any) any {
	switch v := v.(type) {
	case []any:
		out := make([]any, 0, len(v))
		for _, e := range v {
			if o, ok := e.(map[string]any); ok {
				if id, ok := unitIDOf(o["org_unit_id"]); ok && !s.VisibleOrgUnit(id) {
					continue
				}
			}
			out = append(out, s.redactValue(e))
		}
		return out
	case map[string]any:
		_, hasPath := v["path"]
		_, hasKind := v["kind"]
		isUnit := hasPath && hasKind
		for k, e := range v {
			switch {
			case k == "org_unit_id" || k == "root_id" || (k == "parent_id" && isUnit):
				if id, ok := unitIDOf(e); ok && !s.VisibleOrgUnit(id) {
					v[k] = nil
				}
			case k == "locks":
				if ids, ok := e.([]any); ok {
					v[k] = slices.DeleteFunc(ids, func(x any) bool { id, ok := unitIDOf(x); return ok && !s.VisibleOrgUnit(id) })
				}
			case k == "path" && isUnit:
				if p, ok := e.(string); ok && strings.HasPrefix(p, "/") && strings.HasSuffix(p, "/") {
					v[k] = s.ScopedPath(p)
				}
			default:
				v[k] = s.redactValue(e)
			}
		}
		return v
	}
	return v
}
