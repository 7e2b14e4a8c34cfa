package sqlstore

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/cascade-planning/cascade/allocation"
	"github.com/cascade-planning/cascade/planning"
)

type runRow struct {
	bun.BaseModel `bun:"table:allocation_runs"`
	ID            int64     `bun:"id,pk,autoincrement" json:"id"`
	VersionID     int64     `bun:"version_id" json:"version_id"`
	Request       string    `bun:"request" json:"request"`
	CellCount     int64     `bun:"cell_count" json:"cell_count"`
	Checksum      string    `bun:"checksum" json:"checksum"`
	Inputs        []byte    `bun:"inputs" json:"-"`
	ActorID       *int64    `bun:"actor_id" json:"actor_id"`
	At            time.Time `bun:"at" json:"at"`
}

// plan is an allocation resolved against the database: the subtree, the
// weights, locks and phasing of every product line, ready for the engine.
// It is stored with the run, so the run can be replayed and explained
// later even after the tree or the reference versions change.
type plan struct {
	Scale     int32        `json:"scale"`
	Keys      []string     `json:"keys"`    // org unit codes, parents first
	IDs       []int64      `json:"ids"`     // org unit ids, same order
	Parents   []int        `json:"parents"` // index of each node's parent, −1 for the root
	Lines     []linePlan   `json:"lines"`
	Levels    []levelPlan  `json:"levels"`
	Phasing   *phasingPlan `json:"phasing"`
	MeasureID int64        `json:"measure_id"`

	byKey map[string]int // node index by key, built on first use
}

type levelPlan struct {
	Method      string `json:"method"`
	Buffer      string `json:"buffer"`
	ZeroWeights string `json:"zero_weights"`
}

type linePlan struct {
	ProductLineID int64            `json:"product_line_id"`
	Code          string           `json:"code"`
	Amount        string           `json:"amount"`
	Weights       map[int]string   `json:"weights,omitempty"` // node index → weight
	Manual        map[int]string   `json:"manual,omitempty"`  // node index → amount
	Locks         map[int][]string `json:"locks,omitempty"`   // node index → year then 12 months
	RootMonths    []string         `json:"root_months,omitempty"`
}

type phasingPlan struct {
	Method  string   `json:"method"`
	Weights []string `json:"weights,omitempty"`
}

// cascadeInput builds the engine's input for line l.
func (p *plan) cascadeInput(l *linePlan) (allocation.CascadeInput, error) {
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
		switch planning.AllocationMethod(lv.Method) {
		case planning.MethodEven:
			sp.Method = allocation.Even
		case planning.MethodProportional:
			sp.Method = allocation.Proportional
		case planning.MethodManual:
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
		switch planning.PhasingMethod(p.Phasing.Method) {
		case planning.PhaseEven:
			ph.Method = allocation.PhaseEven
		case planning.PhaseProfile:
			ph.Method = allocation.PhaseProfile
			for _, w := range p.Phasing.Weights {
				ph.Weights = append(ph.Weights, decimal.RequireFromString(w))
			}
		case planning.PhaseReference:
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

// run executes the plan: one cascade per product line.
func (p *plan) run() ([]*allocation.CascadeResult, error) {
	out := make([]*allocation.CascadeResult, len(p.Lines))
	for i := range p.Lines {
		in, err := p.cascadeInput(&p.Lines[i])
		if err != nil {
			return nil, err
		}
		if out[i], err = allocation.Cascade(in); err != nil {
			return nil, allocationError(err, p.Lines[i].Code)
		}
	}
	return out, nil
}

// checksum combines the per-line checksums in line order.
func checksum(p *plan, results []*allocation.CascadeResult) string {
	h := sha256.New()
	for i, r := range results {
		fmt.Fprintf(h, "%s\t%s\n", p.Lines[i].Code, r.Checksum())
	}
	return hex.EncodeToString(h.Sum(nil))
}

// allocationError turns an engine error into a domain error naming the
// product line.
func allocationError(err error, line string) error {
	var field string
	msg := err.Error()
	if e, ok := err.(*allocation.Error); ok {
		field, msg = e.Field, e.Message
		if e.Key != "" {
			msg = fmt.Sprintf("org unit %s: %s", e.Key, msg)
		}
		if e.Code == allocation.ETOOLARGE {
			return planning.Errorf(planning.ETOOLARGE, "product line %s: %s", line, msg)
		}
	}
	pe := planning.Errorf(planning.EINVALID, "product line %s: %s", line, msg)
	if field != "" {
		pe.Fields = []planning.FieldError{{Field: field, Message: msg}}
	}
	return pe
}

func encodePlan(p *plan) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(p); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func decodePlan(b []byte) (*plan, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	p := new(plan)
	return p, json.NewDecoder(zr).Decode(p)
}
