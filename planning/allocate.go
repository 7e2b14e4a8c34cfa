package planning

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/cascade-planning/cascade/allocation"
)

// AllocationStore is what an allocation needs of storage: its inputs read,
// and for a real run its cells replaced and the run recorded. A real run
// uses it inside the transaction that holds the version; a dry run on the
// database as it is, and never calls the writing methods.
type AllocationStore interface {
	// LoadAllocationInputs resolves req against the database: the
	// subtree below the root, the weights, manual amounts, locks and
	// phasing of every product line. It checks every id req names.
	LoadAllocationInputs(ctx context.Context, a *Actor, r *Round, req *AllocationRequest) (*AllocationInputs, error)
	// ReplaceCells deletes the cells and buffers the allocation replaces,
	// writes the cells streamed by cells and the buffers of in, keeps the
	// version's cell count, and returns how many cells it wrote.
	ReplaceCells(ctx context.Context, versionID int64, in *AllocationInputs, cells CellStream) (int64, error)
	// RecordRun stores the run with its inputs (so it can be replayed and
	// explained later), sets run.ID, and audits it.
	RecordRun(ctx context.Context, r *Round, run *AllocationRun, in *AllocationInputs) error
}

// CellStream calls emit for every cell an allocation writes, in the order
// of the cells' key (org unit id, product line id, period); it stops at
// the first error emit returns. amount is only valid during the call.
type CellStream func(emit func(unit, line int64, period int, amount []byte) error) error

// RunAllocation is the one path of every allocation, dry or real: it loads
// the inputs through st, runs the cascade of every product line, and
// unless req.DryRun replaces the version's cells and records the run.
// A dry run computes exactly what a real run writes and stops there. The
// cells are streamed to the store, never gathered in memory.
func RunAllocation(ctx context.Context, st AllocationStore, a *Actor, r *Round, req *AllocationRequest, at time.Time) (*AllocationResult, error) {
	in, err := st.LoadAllocationInputs(ctx, a, r, req)
	if err != nil {
		return nil, err
	}
	out, err := in.Run()
	if err != nil {
		return nil, err
	}
	run := &AllocationRun{VersionID: req.VersionID, Request: *req, CellCount: out.CellCount(), Checksum: out.Checksum(),
		ActorID: actorIDPtr(a), At: at}
	if !req.DryRun {
		cells := out.Cells
		if p := jobProgressFrom(ctx); p != nil {
			cells = withProgress(ctx, p, run.CellCount, cells)
		}
		if run.CellCount, err = st.ReplaceCells(ctx, req.VersionID, in, cells); err != nil {
			return nil, err
		}
		if err := st.RecordRun(ctx, r, run, in); err != nil {
			return nil, err
		}
	}
	if req.ExplainUnder != nil {
		// A preview explains itself by the very code that explains a saved
		// run after its replay (see AllocationOutcome.Explain).
		if run.Explanation, err = out.Explain(req.ExplainUnder, a.ReadScope().VisibleOrgUnit); err != nil {
			return nil, err
		}
	}
	res := &AllocationResult{Run: run}
	if req.DryRun || req.IncludeNodes {
		res.Nodes = out.Nodes()
	}
	return res, nil
}

func actorIDPtr(a *Actor) *int64 {
	if uid := a.UserID(); uid != 0 {
		return &uid
	}
	return nil
}

// AllocationInputs is an allocation resolved against the database: the
// subtree, the weights, locks and phasing of every product line, ready for
// the engine. It is stored with the run, so the run can be replayed and
// explained later even after the tree or the reference versions change;
// its JSON form is that record and must stay readable.
type AllocationInputs struct {
	Scale     int32                   `json:"scale"`
	Keys      []string                `json:"keys"`    // org unit codes, parents first
	IDs       []int64                 `json:"ids"`     // org unit ids, same order
	Parents   []int                   `json:"parents"` // index of each node's parent, −1 for the root
	Lines     []AllocationLineInputs  `json:"lines"`
	Levels    []AllocationLevelInputs `json:"levels"`
	Phasing   *AllocationPhasing      `json:"phasing"`
	MeasureID int64                   `json:"measure_id"`

	byKey map[string]int // node index by key, built on first use
}

// AllocationLevelInputs is the split rule of one depth below the root.
type AllocationLevelInputs struct {
	Method      string `json:"method"`
	Buffer      string `json:"buffer"`
	ZeroWeights string `json:"zero_weights"`
}

// AllocationLineInputs is one product line's amount and per-node inputs.
type AllocationLineInputs struct {
	ProductLineID int64            `json:"product_line_id"`
	Code          string           `json:"code"`
	Amount        string           `json:"amount"`
	Weights       map[int]string   `json:"weights,omitempty"` // node index → weight
	Manual        map[int]string   `json:"manual,omitempty"`  // node index → amount
	Locks         map[int][]string `json:"locks,omitempty"`   // node index → year then 12 months
	RootMonths    []string         `json:"root_months,omitempty"`
}

// AllocationPhasing is how the root's year is phased over the months.
type AllocationPhasing struct {
	Method  string   `json:"method"`
	Weights []string `json:"weights,omitempty"`
}

// cascadeInput builds the engine's input for line l.
func (p *AllocationInputs) cascadeInput(l *AllocationLineInputs) (allocation.CascadeInput, error) {
	nodes := make([]allocation.Node, len(p.Keys))
	for i, k := range p.Keys {
		nodes[i].Key = k
		if w, ok := l.Weights[i]; ok {
			nodes[i].Weight = decimal.RequireFromString(w)
		}
		if m, ok := l.Manual[i]; ok {
			d := decimal.RequireFromString(m)
			nodes[i].Manual = &d
		}
	}
	// Attach children bottom-up: parents come before children, so walking
	// backwards completes every child before it is copied into its parent.
	kids := make([][]allocation.Node, len(nodes))
	for i := len(nodes) - 1; i > 0; i-- {
		nodes[i].Children = kids[i]
		kids[p.Parents[i]] = append(kids[p.Parents[i]], nodes[i])
	}
	nodes[0].Children = kids[0]
	in := allocation.CascadeInput{Root: nodes[0], Scale: p.Scale}
	var err error
	if in.Amount, err = decimal.NewFromString(l.Amount); err != nil {
		return in, err
	}
	for _, lv := range p.Levels {
		sp := allocation.Spec{Buffer: decimal.RequireFromString(lv.Buffer)}
		switch AllocationMethod(lv.Method) {
		case MethodEven:
			sp.Method = allocation.Even
		case MethodProportional:
			sp.Method = allocation.Proportional
		case MethodManual:
			sp.Method, sp.Residual = allocation.Manual, allocation.ResidualEven
		}
		if lv.ZeroWeights == "even" {
			sp.ZeroWeight = allocation.ZeroWeightEven
		}
		in.Levels = append(in.Levels, sp)
	}
	for _, i := range sortedKeys(l.Locks) {
		v := l.Locks[i]
		lk := allocation.Lock{Key: p.Keys[i], Amount: decimal.RequireFromString(v[0])}
		if len(v) == 13 {
			for _, m := range v[1:] {
				lk.Months = append(lk.Months, decimal.RequireFromString(m))
			}
		}
		in.Locks = append(in.Locks, lk)
	}
	if p.Phasing != nil {
		ph := &allocation.Phasing{ZeroWeight: allocation.ZeroWeightEven}
		switch PhasingMethod(p.Phasing.Method) {
		case PhaseEven:
			ph.Method = allocation.PhaseEven
		case PhaseProfile:
			ph.Method = allocation.PhaseProfile
			for _, w := range p.Phasing.Weights {
				ph.Weights = append(ph.Weights, decimal.RequireFromString(w))
			}
		case PhaseReference:
			ph.Method = allocation.PhaseReference
			for _, w := range l.RootMonths {
				ph.Weights = append(ph.Weights, decimal.RequireFromString(w))
			}
		}
		in.Phasing = ph
	}
	return in, nil
}

func sortedKeys[V any](m map[int]V) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// AllocationOutcome is the engine's result of every product line of an
// allocation, kept in the engine's compact form until it is streamed out.
type AllocationOutcome struct {
	in      *AllocationInputs
	results []*allocation.CascadeResult
}

// Run executes the allocation: one cascade per product line.
func (p *AllocationInputs) Run() (*AllocationOutcome, error) {
	out := &AllocationOutcome{in: p, results: make([]*allocation.CascadeResult, len(p.Lines))}
	for i := range p.Lines {
		in, err := p.cascadeInput(&p.Lines[i])
		if err != nil {
			return nil, err
		}
		if out.results[i], err = allocation.Cascade(in); err != nil {
			return nil, AllocationError(err, p.Lines[i].Code)
		}
	}
	return out, nil
}

// Checksum combines the per-line checksums in line order.
func (o *AllocationOutcome) Checksum() string {
	h := sha256.New()
	for i, r := range o.results {
		fmt.Fprintf(h, "%s\t%s\n", o.in.Lines[i].Code, r.Checksum())
	}
	return hex.EncodeToString(h.Sum(nil))
}

// CellCount is how many cells the allocation writes: twelve per node and
// line, but for the locked nodes, which keep theirs.
func (o *AllocationOutcome) CellCount() int64 {
	var n int64
	for i, r := range o.results {
		n += int64(r.Len()-len(o.in.Lines[i].Locks)) * 12
	}
	return n
}

// Nodes lists every allocated node's year and months.
func (o *AllocationOutcome) Nodes() []AllocatedNode {
	p := o.in
	var out []AllocatedNode
	for li, r := range o.results {
		for i := 0; i < r.Len(); i++ {
			idx := p.index(r.Key(i))
			n := AllocatedNode{OrgUnitID: p.IDs[idx], OrgUnitCode: p.Keys[idx], ProductLineID: p.Lines[li].ProductLineID,
				ProductLineCode: p.Lines[li].Code, Year: r.Year(i).Decimal()}
			_, n.Locked = p.Lines[li].Locks[idx]
			for m := 1; m <= 12; m++ {
				n.Months[m-1] = r.Month(i, m).Decimal()
			}
			out = append(out, n)
		}
	}
	return out
}

// Explain explains the shares of the children of under (the root when
// under is nil) that visible admits, for every line.
func (o *AllocationOutcome) Explain(under *int64, visible func(orgUnitID int64) bool) ([]NodeExplanation, error) {
	p := o.in
	parent := 0
	if under != nil {
		found := false
		for i, uid := range p.IDs {
			if uid == *under {
				parent, found = i, true
			}
		}
		if !found {
			return nil, FieldErrorf(EINVALID, "explain_under", "org unit %d is not part of this allocation", *under)
		}
	}
	var out []NodeExplanation
	for li, r := range o.results {
		for i := range p.IDs {
			if p.Parents[i] != parent || !visible(p.IDs[i]) {
				continue
			}
			ex, err := r.Explain(p.Keys[i])
			if err != nil {
				return nil, err
			}
			out = append(out, explanationOf(ex, p.IDs[i], p.Keys[i], p.Lines[li].ProductLineID, p.Lines[li].Code))
		}
	}
	return out, nil
}

func explanationOf(ex *allocation.NodeExplanation, unitID int64, unit string, lineID int64, line string) NodeExplanation {
	y := ex.Year
	out := NodeExplanation{OrgUnitID: unitID, OrgUnitCode: unit, ProductLineID: lineID, ProductLineCode: line, Amount: y.Amount.Decimal(), Basis: string(y.Basis),
		Quota: y.Quota, Floor: y.Floor.Decimal(), Rule: string(y.Rule), Rank: y.Rank, Of: y.Of, TieByKey: y.TieByKey, Reason: y.Reason}
	for _, m := range ex.Months {
		out.Months = append(out.Months, MonthExplanation{Period: m.Month, Amount: m.Amount.Decimal(), Basis: string(m.Basis),
			Quota: m.Quota, Rule: string(m.Rule), Reason: m.Reason})
	}
	return out
}

// CellAmount replays the one product line of the allocation that k
// belongs to and returns the amount it wrote to k; ok is false when the
// allocation did not write k (another measure, line or unit, or a locked
// unit).
func (p *AllocationInputs) CellAmount(k CellKey) (amount decimal.Decimal, ok bool, err error) {
	if p.MeasureID != k.MeasureID {
		return amount, false, nil
	}
	idx, line := slices.Index(p.IDs, k.OrgUnitID), -1
	for li := range p.Lines {
		if p.Lines[li].ProductLineID == k.ProductLineID {
			line = li
		}
	}
	if idx < 0 || line < 0 {
		return amount, false, nil
	}
	if _, locked := p.Lines[line].Locks[idx]; locked {
		return amount, false, nil
	}
	in, err := p.cascadeInput(&p.Lines[line])
	if err != nil {
		return amount, false, err
	}
	res, err := allocation.Cascade(in)
	if err != nil {
		return amount, false, err
	}
	node, found := res.Index(p.Keys[idx])
	if !found {
		return amount, false, nil
	}
	return res.Month(node, k.Period).Decimal(), true, nil
}

// index returns the node index of the node with code key.
func (p *AllocationInputs) index(key string) int {
	if p.byKey == nil {
		p.byKey = make(map[string]int, len(p.Keys))
		for i, k := range p.Keys {
			p.byKey[k] = i
		}
	}
	return p.byKey[key]
}

// WrittenUnits returns the ids of the nodes an allocation writes: every
// node but the locked ones, which keep their cells.
func (p *AllocationInputs) WrittenUnits() []int64 {
	var locked map[int][]string
	if len(p.Lines) > 0 {
		locked = p.Lines[0].Locks
	}
	out := make([]int64, 0, len(p.IDs))
	for i, id := range p.IDs {
		if _, ok := locked[i]; !ok {
			out = append(out, id)
		}
	}
	return out
}

// LineIDs returns the product lines' ids in the request's order.
func (p *AllocationInputs) LineIDs() []int64 {
	out := make([]int64, len(p.Lines))
	for i, l := range p.Lines {
		out[i] = l.ProductLineID
	}
	return out
}

// AllocationBuffer is the over-assignment buffer the children of one org
// unit carry for one product line.
type AllocationBuffer struct {
	OrgUnitID     int64
	ProductLineID int64
	Buffer        string
}

// Buffers lists, for every parent the allocation splits with a buffer,
// the buffer its children carry, for the consistency check.
func (p *AllocationInputs) Buffers() []AllocationBuffer {
	hasKids := make([]bool, len(p.IDs))
	depth := make([]int, len(p.IDs))
	for i := 1; i < len(p.IDs); i++ {
		hasKids[p.Parents[i]] = true
		depth[i] = depth[p.Parents[i]] + 1
	}
	locked := map[int][]string{}
	if len(p.Lines) > 0 {
		locked = p.Lines[0].Locks
	}
	var out []AllocationBuffer
	for i, id := range p.IDs {
		if _, isLocked := locked[i]; !hasKids[i] || isLocked {
			continue
		}
		b := p.Levels[min(depth[i], len(p.Levels)-1)].Buffer
		if b == "0" || b == "" {
			continue
		}
		for _, l := range p.Lines {
			out = append(out, AllocationBuffer{OrgUnitID: id, ProductLineID: l.ProductLineID, Buffer: b})
		}
	}
	return out
}

// AllocationError turns an engine error into a domain error naming the
// product line.
func AllocationError(err error, line string) error {
	var field string
	msg := err.Error()
	if e, ok := err.(*allocation.Error); ok {
		field, msg = e.Field, e.Message
		if e.Key != "" {
			msg = fmt.Sprintf("org unit %s: %s", e.Key, msg)
		}
		if e.Code == allocation.ETOOLARGE {
			return Errorf(ETOOLARGE, "product line %s: %s", line, msg)
		}
	}
	pe := Errorf(EINVALID, "product line %s: %s", line, msg)
	if field != "" {
		pe.Fields = []FieldError{{Field: field, Message: msg}}
	}
	return pe
}

// PhaseLike phases amount over the twelve months in proportion to the
// sizes of weights (evenly when they are all zero), exactly to scale.
func PhaseLike(amount decimal.Decimal, scale int32, weights []decimal.Decimal) ([12]decimal.Decimal, error) {
	var out [12]decimal.Decimal
	abs := make([]decimal.Decimal, len(weights))
	for i, w := range weights {
		abs[i] = w.Abs()
	}
	res, err := allocation.Phase(amount, scale, allocation.Phasing{Method: allocation.PhaseReference, Weights: abs, ZeroWeight: allocation.ZeroWeightEven})
	if err != nil {
		return out, AllocationError(err, "")
	}
	for i := range out {
		out[i] = res.Amount(i).Decimal()
	}
	return out, nil
}

// BufferedMonths is what a parent's twelve months leave to its children
// when they carry an over-assignment buffer, rounded as an allocation
// rounds them.
func BufferedMonths(months []decimal.Decimal, buffer decimal.Decimal, scale int32) ([]decimal.Decimal, error) {
	return allocation.BufferedMonths(months, buffer, scale)
}

// EncodeAllocationInputs is the compressed record of in kept with a run.
func EncodeAllocationInputs(in *AllocationInputs) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(in); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// DecodeAllocationInputs reads a record EncodeAllocationInputs wrote.
func DecodeAllocationInputs(b []byte) (*AllocationInputs, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	p := new(AllocationInputs)
	return p, json.NewDecoder(zr).Decode(p)
}

// ValidateAllocation checks what can be checked of req without the
// database, and fills in the defaults: one even level, even phasing.
func ValidateAllocation(req *AllocationRequest) error {
	var v Validation
	if len(req.Targets) == 0 {
		v.Add("targets", "must name at least one product line and its amount")
	}
	seen := map[int64]bool{}
	for i, t := range req.Targets {
		if seen[t.ProductLineID] {
			v.Add(fmt.Sprintf("targets[%d].product_line", i), "is listed twice")
		}
		seen[t.ProductLineID] = true
	}
	if len(req.Levels) == 0 {
		req.Levels = []LevelSpec{{Method: MethodEven}}
	}
	for i, l := range req.Levels {
		f := fmt.Sprintf("levels[%d]", i)
		switch l.Method {
		case MethodEven:
		case MethodProportional:
			if l.ReferenceVersionID == nil && len(l.Weights) == 0 {
				v.Add(f+".method", "proportional needs reference_version_id or weights")
			}
		case MethodManual:
			if len(l.Manual) == 0 {
				v.Add(f+".manual", "manual needs amounts")
			}
		default:
			v.Add(f+".method", "must be even, proportional or manual")
		}
		if l.Buffer.IsNegative() {
			v.Add(f+".buffer", "must not be negative")
		}
		if l.ZeroWeights != "" && l.ZeroWeights != "even" && l.ZeroWeights != "fail" {
			v.Add(f+".zero_weights", "must be even or fail")
		}
		for id, w := range l.Weights {
			if w.IsNegative() {
				v.Add(fmt.Sprintf("%s.weights.%d", f, id), "must not be negative")
			}
		}
	}
	if req.ExplainUnder != nil && !req.DryRun {
		v.Add("explain_under", "explains a dry run only; a saved run explains itself at GET /allocations/{id}?explain_under=")
	}
	if req.Depth < 0 || req.Depth > MaxOrgDepth {
		v.Add("depth", "must be between 0 (down to the leaves) and %d", MaxOrgDepth)
	}
	switch req.Phasing.Method {
	case "", PhaseEven:
		req.Phasing.Method = PhaseEven
	case PhaseProfile:
		if req.Phasing.ProfileID == nil {
			v.Add("phasing.profile", "is required for profile phasing")
		}
	case PhaseReference:
		if req.Phasing.ReferenceVersionID == nil {
			v.Add("phasing.reference_version_id", "is required for reference phasing")
		}
	default:
		v.Add("phasing.method", "must be even, profile or reference")
	}
	return v.Err()
}
