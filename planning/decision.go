package planning

import (
	"fmt"

	"github.com/shopspring/decimal"
)

// The product managers' decisions on counterproposal lines, and how an
// accepted line keeps the tree consistent.

// LineApplication is an accepted or modified line to put into the working
// version: the line (decided), the amount and how it keeps the tree
// consistent.
type LineApplication struct {
	Line   *CounterproposalLine
	Amount decimal.Decimal
	Scale  int32
	Mode   ApplyMode
	// OwnCells is set for a measure that does not add up (a rate, level or
	// rating): the line sets the unit's own cells only, neither re-split
	// over its subtree nor rebalanced or raised in its parent, and Mode is
	// empty.
	OwnCells bool
}

// OwnMonths returns the unit's months after applying an OwnCells line to
// its current months old: a month line sets that month; a year line sets
// every month to the amount, so the year reads as the amount by any of
// the rules (a weighted average, the last value, the last month's).
func (app LineApplication) OwnMonths(old [12]decimal.Decimal) [12]decimal.Decimal {
	out := old
	if app.Line.Period != YearPeriod {
		out[app.Line.Period-1] = app.Amount
		return out
	}
	for p := range out {
		out[p] = app.Amount
	}
	return out
}

// RaisesParent reports whether applying a line of a unit with or without a
// parent changes its ancestors: under raise_parent, and always at the top
// of the tree, where there are no siblings to rebalance over.
func (m ApplyMode) RaisesParent(hasParent bool) bool {
	return m == ApplyRaiseParent || !hasParent
}

// CheckRaiseParent refuses raising an ancestor whose children carry an
// over-assignment buffer: the raised parent would no longer match them
// exactly.
func CheckRaiseParent(ancestorCode string, childrenCarryBuffer bool) error {
	if childrenCarryBuffer {
		return Errorf(EINVALID, "cannot raise the parent: the children of %s carry an over-assignment buffer; rebalance among siblings instead", ancestorCode)
	}
	return nil
}

// lineByID returns the counterproposal's line id, or nil.
func (cp *Counterproposal) lineByID(id int64) *CounterproposalLine {
	for i := range cp.Lines {
		if cp.Lines[i].ID == id {
			return &cp.Lines[i]
		}
	}
	return nil
}

// Decide records a product manager's decisions on some lines, in the order
// every check runs in: authorize (EFORBIDDEN: a deciding role, then each
// named line's product line must be the actor's to plan), the revision read
// (EPRECONDITION), state (ECONFLICT: a submitted counterproposal, a
// writable working version, a round in its counterproposals or review
// phase, lines not decided yet), validate (EINVALID). It marks the lines
// decided, closes the counterproposal when no line is left undecided, and
// returns the accepted and modified lines for the caller to apply to the
// working version, in the order given.
func (cp *Counterproposal) Decide(c *ProposalContext, decisions []LineDecision) ([]LineApplication, error) {
	a := c.Actor
	if err := a.MayDecideCounterproposals(); err != nil {
		return nil, err
	}
	for _, d := range decisions {
		if l := cp.lineByID(d.LineID); l != nil {
			if err := a.MayDecideLine(d.LineID, c.ProductLines[l.ProductLineID]); err != nil {
				return nil, err
			}
		}
	}
	if err := CheckRevision(c.IfMatch, cp.Revision); err != nil {
		return nil, err
	}
	if !canMove(CPActDecide, cp.Status) {
		return nil, Errorf(ECONFLICT, "counterproposal %d is %s: only submitted ones are decided", cp.ID, cp.Status)
	}
	if err := CheckWorkingVersion(c.Version, c.Round); err != nil {
		return nil, err
	}
	r := c.Round
	if r.Status != RoundCounterproposals && r.Status != RoundReview {
		return nil, Errorf(ECONFLICT, "round %s is %s: counterproposals are decided in its counterproposals or review phase", r.Code, r.Status)
	}
	for i, d := range decisions {
		if l := cp.lineByID(d.LineID); l != nil && l.Decided() {
			return nil, fieldError(ECONFLICT, fmt.Sprintf("decisions[%d].line_id", i), "line %d is decided already", d.LineID)
		}
	}
	if err := cp.validateDecisions(c, decisions); err != nil {
		return nil, err
	}
	var apps []LineApplication
	uid := a.UserID()
	for _, d := range decisions {
		l := cp.lineByID(d.LineID)
		now := c.Now
		l.Decision, l.DecisionComment, l.DecidedAt = d.Action, d.Comment, &now
		if uid != 0 {
			l.DecidedBy = &uid
		}
		if d.Action == DecisionReject {
			continue
		}
		scale := c.Scales[l.MeasureID]
		amount := l.Proposed
		if d.Action == DecisionModify {
			amount = *d.Amount
			decided := amount.Round(scale)
			l.DecidedAmount = &decided
		}
		if m := c.Measures[l.MeasureID]; m != nil && !m.IsSum() {
			apps = append(apps, LineApplication{Line: l, Amount: amount, Scale: scale, OwnCells: true})
			continue
		}
		mode := d.Apply
		if mode == "" {
			mode = ApplyRebalance
		}
		l.ApplyMode = mode
		apps = append(apps, LineApplication{Line: l, Amount: amount, Scale: scale, Mode: mode})
	}
	undecided := 0
	for i := range cp.Lines {
		if !cp.Lines[i].Decided() {
			undecided++
		}
	}
	if undecided == 0 {
		now := c.Now
		cp.Status, cp.ClosedAt = CPClosed, &now
	}
	return apps, nil
}

// measureOf returns the measure of line l when the context knows it.
func (c *ProposalContext) measureOf(l *CounterproposalLine) *Measure {
	if l == nil {
		return nil
	}
	return c.Measures[l.MeasureID]
}

// validateDecisions checks the decisions' own rules: at least one, each
// naming a line of the counterproposal once, with a known decision and
// apply mode, an amount exactly when modifying (at the measure's scale),
// and a clean comment.
func (cp *Counterproposal) validateDecisions(c *ProposalContext, decisions []LineDecision) error {
	var val Validation
	if len(decisions) == 0 {
		val.Add("decisions", "must decide at least one line")
	}
	seen := map[int64]int{}
	for i, d := range decisions {
		f := fmt.Sprintf("decisions[%d]", i)
		l := cp.lineByID(d.LineID)
		if l == nil {
			val.Add(f+".line_id", "counterproposal %d has no line %d", cp.ID, d.LineID)
		} else if j, dup := seen[d.LineID]; dup {
			val.Add(f+".line_id", "decides line %d again (decisions[%d])", d.LineID, j)
		}
		seen[d.LineID] = i
		switch d.Action {
		case DecisionAccept, DecisionReject:
			if d.Amount != nil {
				val.Add(f+".amount", "is only for modify")
			}
		case DecisionModify:
			if d.Amount == nil {
				val.Add(f+".amount", "is required to modify a line")
			} else if m := c.measureOf(l); m != nil {
				m.CheckValue(&val, f+".amount", *d.Amount)
			} else if l != nil {
				CheckAmountScale(&val, f+".amount", *d.Amount, c.Scales[l.MeasureID])
			}
		default:
			val.Add(f+".decision", "must be accept, modify or reject")
		}
		if d.Apply != "" && d.Apply != ApplyRebalance && d.Apply != ApplyRaiseParent {
			val.Add(f+".apply", "must be rebalance or raise_parent")
		} else if m := c.measureOf(l); d.Apply != "" && m != nil && !m.IsSum() {
			val.Add(f+".apply", "%s is a %s measure: a decision sets the unit's own cells only, neither rebalanced nor raised", m.Code, m.Agg())
		}
		if msg := CheckText(d.Comment, true); msg != "" {
			val.Add(f+".comment", "%s", msg)
		} else if len(d.Comment) > MaxReasonLength {
			val.Add(f+".comment", "must be at most %d characters", MaxReasonLength)
		}
	}
	return val.Err()
}

// StoredBuffer is an over-assignment buffer an earlier allocation left on
// the children of a unit Depth levels below the root of a re-split (0 for
// the root's own children).
type StoredBuffer struct {
	Depth  int
	Buffer decimal.Decimal
}

// ResplitLevels returns the levels that re-split a subtree of depth levels
// below its root (rootCode) after an accepted change: proportional to the
// version's own current amounts, each level keeping the buffer earlier
// allocations left at that depth. Differing buffers at one depth cannot be
// kept by one level rule: ECONFLICT.
func ResplitLevels(rootCode string, versionID int64, depth int, buffers []StoredBuffer) ([]LevelSpec, error) {
	n := max(depth, 1)
	kept := make([]*decimal.Decimal, n)
	for _, b := range buffers {
		d := b.Depth
		if d < 0 || d >= n {
			continue
		}
		if kept[d] != nil && !kept[d].Equal(b.Buffer) {
			return nil, Errorf(ECONFLICT, "the levels below %s carry different buffers; re-allocate it before applying the change", rootCode)
		}
		buf := b.Buffer
		kept[d] = &buf
	}
	levels := make([]LevelSpec, n)
	for d := range levels {
		levels[d] = LevelSpec{Method: MethodProportional, ReferenceVersionID: &versionID, ZeroWeights: "even"}
		if kept[d] != nil {
			levels[d].Buffer = *kept[d]
		}
	}
	return levels, nil
}
