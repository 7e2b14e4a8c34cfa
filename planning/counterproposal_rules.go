package planning

import (
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// CounterproposalAction is something done to a counterproposal after it is
// drafted.
type CounterproposalAction string

// The actions of the counterproposal's state machine.
const (
	CPActUpdate   CounterproposalAction = "update"
	CPActSubmit   CounterproposalAction = "submit"
	CPActWithdraw CounterproposalAction = "withdraw"
	CPActDecide   CounterproposalAction = "decide"
)

// CounterproposalTransitionRule is one move of a counterproposal: the
// action, the state it is taken in and the state it leads to, and who takes
// it.
type CounterproposalTransitionRule struct {
	Action   CounterproposalAction
	From, To CounterproposalStatus
	// Who takes the action and what it does and needs, for people reading
	// the moves listed with a counterproposal.
	Who, Description string
}

const (
	cpManagers = "its author or another manager (branch manager or team lead) of its unit"
	cpDeciders = "the product managers of its lines' product lines, the strategy office and administrators"
)

// CounterproposalTransitions is the counterproposal's state machine. An
// action not listed from where the counterproposal stands is refused
// (ECONFLICT). Closed and withdrawn counterproposals are final.
var CounterproposalTransitions = []CounterproposalTransitionRule{
	{CPActUpdate, CPDraft, CPDraft, cpManagers, "change its title and lines, in the round's counterproposals phase before its deadline"},
	{CPActSubmit, CPDraft, CPSubmitted, cpManagers, "send it to the product managers, in the round's counterproposals phase before its deadline"},
	{CPActWithdraw, CPDraft, CPWithdrawn, cpManagers, "take it back"},
	{CPActWithdraw, CPSubmitted, CPWithdrawn, cpManagers, "take it back, while none of its lines is decided"},
	{CPActDecide, CPSubmitted, CPClosed, cpDeciders,
		"decide some of its lines, in the round's counterproposals or review phase; accepted and modified amounts go into the working version; it closes when every line is decided"},
}

// CounterproposalMovesFrom returns the moves possible from status s.
func CounterproposalMovesFrom(s CounterproposalStatus) []CounterproposalTransitionRule {
	var out []CounterproposalTransitionRule
	for _, r := range CounterproposalTransitions {
		if r.From == s {
			out = append(out, r)
		}
	}
	return out
}

// canMove reports whether action is a move from status s.
func canMove(action CounterproposalAction, s CounterproposalStatus) bool {
	for _, r := range CounterproposalTransitions {
		if r.Action == action && r.From == s {
			return true
		}
	}
	return false
}

// ProposalContext is what a counterproposal's rules look at besides the
// counterproposal: who acts, on which unit, in which round and version,
// when, at which revision they read it, and the master data its lines name.
type ProposalContext struct {
	Actor   *Actor
	Unit    *OrgUnit
	Version *Version
	Round   *Round
	Now     time.Time
	// IfMatch is the revision the caller read, when they said.
	IfMatch *int64
	// ProductLines are the product lines the lines (or the drafted lines)
	// name, by id; unknown ids are absent.
	ProductLines map[int64]*ProductLine
	// Scales are the round's measures' scales, by measure id.
	Scales map[int64]int32
}

// MaxLineCount is the most lines a counterproposal has.
const MaxLineCount = 1000

// MaxReasonLength is the longest reason of a line, or comment of a
// decision, in bytes.
const MaxReasonLength = 2000

// CheckProposalWindow refuses a counterproposal write outside the round's
// counterproposal phase, after its deadline, or on another version than the
// round's working one (ECONFLICT).
func CheckProposalWindow(r *Round, versionID int64, now time.Time) error {
	if r.Status != RoundCounterproposals {
		return Errorf(ECONFLICT, "round %s is %s: counterproposals are made in its counterproposals phase", r.Code, r.Status)
	}
	if r.WorkingVersionID == nil || *r.WorkingVersionID != versionID {
		return Errorf(ECONFLICT, "version %d is not the round's published working version", versionID)
	}
	for _, d := range r.Calendar {
		if d.Phase == RoundCounterproposals && now.After(d.Due) {
			return Errorf(ECONFLICT, "the deadline for counterproposals passed at %s", d.Due.Format(time.RFC3339))
		}
	}
	return nil
}

// CheckAmountScale refuses an amount with more decimal places than the
// measure's scale, or too many digits to store.
func CheckAmountScale(v *Validation, field string, d decimal.Decimal, scale int32) {
	if d.Exponent() < -scale {
		v.Add(field, "has more than %d decimal places", scale)
	} else if err := CheckStoredAmount(d, scale); err != nil {
		v.Add(field, "%s", err)
	}
}

func validateTitle(v *Validation, title string) {
	if msg := CheckText(title, false); msg != "" {
		v.Add("title", "%s", msg)
	} else if len(title) > MaxNameLength {
		v.Add("title", "must be at most %d characters", MaxNameLength)
	}
}

// validateLines checks drafted lines against the round: known product
// lines, measures of the round at their scale, months of the year or the
// year, reasons, no target proposed twice.
func validateLines(v *Validation, c *ProposalContext, lines []LineInput) {
	if len(lines) == 0 {
		v.Add("lines", "must have at least one line")
	}
	if len(lines) > MaxLineCount {
		v.Add("lines", "at most %d lines", MaxLineCount)
	}
	type key struct {
		pl, m int64
		p     int
	}
	seen := map[key]int{}
	for i, l := range lines {
		f := fmt.Sprintf("lines[%d]", i)
		if c.ProductLines[l.ProductLineID] == nil {
			v.Add(f+".product_line", "no such product line")
		}
		if scale, ok := c.Scales[l.MeasureID]; !ok {
			v.Add(f+".measure", "is not a measure of round %s", c.Round.Code)
		} else {
			CheckAmountScale(v, f+".proposed", l.Proposed, scale)
		}
		if l.Period < 0 || l.Period > 12 {
			v.Add(f+".period", "must be a month of the round's fiscal year, or the year")
		}
		if msg := CheckText(l.Reason, true); msg != "" {
			v.Add(f+".reason", "%s", msg)
		} else if len(l.Reason) > MaxReasonLength {
			v.Add(f+".reason", "must be at most %d characters", MaxReasonLength)
		}
		k := key{l.ProductLineID, l.MeasureID, l.Period}
		if j, dup := seen[k]; dup {
			v.Add(f, "proposes the same target as lines[%d]", j)
		}
		seen[k] = i
	}
}

// draftLines turns drafted lines into the counterproposal's new lines,
// their amounts at the measures' scales.
func draftLines(c *ProposalContext, lines []LineInput) []CounterproposalLine {
	out := make([]CounterproposalLine, len(lines))
	for i, l := range lines {
		out[i] = CounterproposalLine{ProductLineID: l.ProductLineID, MeasureID: l.MeasureID, Period: l.Period,
			Proposed: l.Proposed.Round(c.Scales[l.MeasureID]), Reason: l.Reason}
	}
	return out
}

// NewCounterproposal drafts a counterproposal of c.Unit against c.Version:
// only the unit's managers draft (EFORBIDDEN), in the round's
// counterproposals phase before its deadline (ECONFLICT), with a valid
// title and lines (EINVALID).
func NewCounterproposal(c *ProposalContext, title string, lines []LineInput) (*Counterproposal, error) {
	if err := c.Actor.MayDraftCounterproposal(c.Unit); err != nil {
		return nil, err
	}
	if err := CheckProposalWindow(c.Round, c.Version.ID, c.Now); err != nil {
		return nil, err
	}
	var v Validation
	validateTitle(&v, title)
	validateLines(&v, c, lines)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return &Counterproposal{VersionID: c.Version.ID, OrgUnitID: c.Unit.ID, Title: title, Status: CPDraft,
		AuthorID: c.Actor.UserID(), Revision: 1, CreatedAt: c.Now, UpdatedAt: c.Now, Lines: draftLines(c, lines)}, nil
}

// begin runs the checks every change by the unit's managers starts with,
// in order: authorize, the revision read, the state machine.
func (cp *Counterproposal) begin(c *ProposalContext, action CounterproposalAction) error {
	if err := c.Actor.MayChangeCounterproposal(cp, c.Unit); err != nil {
		return err
	}
	if err := CheckRevision(c.IfMatch, cp.Revision); err != nil {
		return err
	}
	if !canMove(action, cp.Status) {
		return Errorf(ECONFLICT, "counterproposal %d is %s: it cannot be %s now; possible now: %s", cp.ID, cp.Status, action, cp.possibleNow())
	}
	return nil
}

func (cp *Counterproposal) possibleNow() string {
	var out []string
	for _, r := range CounterproposalMovesFrom(cp.Status) {
		out = append(out, string(r.Action))
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

// Update replaces a draft's title and lines (nil leaves them). A change of
// the lines replaces them all: the new lines have no ids yet.
func (cp *Counterproposal) Update(c *ProposalContext, title *string, lines *[]LineInput) error {
	if err := cp.begin(c, CPActUpdate); err != nil {
		return err
	}
	if err := CheckProposalWindow(c.Round, cp.VersionID, c.Now); err != nil {
		return err
	}
	var v Validation
	if title != nil {
		validateTitle(&v, *title)
	}
	if lines != nil {
		validateLines(&v, c, *lines)
	}
	if err := v.Err(); err != nil {
		return err
	}
	if title != nil {
		cp.Title = *title
	}
	if lines != nil {
		cp.Lines = draftLines(c, *lines)
	}
	return nil
}

// Submit sends a draft to the product managers.
func (cp *Counterproposal) Submit(c *ProposalContext) error {
	if err := cp.begin(c, CPActSubmit); err != nil {
		return err
	}
	if err := CheckProposalWindow(c.Round, cp.VersionID, c.Now); err != nil {
		return err
	}
	now := c.Now
	cp.Status, cp.SubmittedAt = CPSubmitted, &now
	return nil
}

// Withdraw takes back a draft, or a submitted counterproposal none of whose
// lines is decided.
func (cp *Counterproposal) Withdraw(c *ProposalContext) error {
	if err := cp.begin(c, CPActWithdraw); err != nil {
		return err
	}
	n := 0
	for i := range cp.Lines {
		if cp.Lines[i].Decided() {
			n++
		}
	}
	if n > 0 {
		return Errorf(ECONFLICT, "%d of its lines are decided already; it can no longer be withdrawn", n)
	}
	now := c.Now
	cp.Status, cp.ClosedAt = CPWithdrawn, &now
	return nil
}

// LineApplication is an accepted or modified line to put into the working
// version: the line (decided), the amount and how it keeps the tree
// consistent.
type LineApplication struct {
	Line   *CounterproposalLine
	Amount decimal.Decimal
	Scale  int32
	Mode   ApplyMode
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
			} else if l != nil {
				CheckAmountScale(&val, f+".amount", *d.Amount, c.Scales[l.MeasureID])
			}
		default:
			val.Add(f+".decision", "must be accept, modify or reject")
		}
		if d.Apply != "" && d.Apply != ApplyRebalance && d.Apply != ApplyRaiseParent {
			val.Add(f+".apply", "must be rebalance or raise_parent")
		}
		if msg := CheckText(d.Comment, true); msg != "" {
			val.Add(f+".comment", "%s", msg)
		} else if len(d.Comment) > MaxReasonLength {
			val.Add(f+".comment", "must be at most %d characters", MaxReasonLength)
		}
	}
	return val.Err()
}

// CheckWorkingVersion refuses a change to the cells of v (ECONFLICT): it
// must be a working version outside the approval chain, of a round that is
// under way.
func CheckWorkingVersion(v *Version, r *Round) error {
	if v.Status != VersionWorking {
		return Errorf(ECONFLICT, "version %d is frozen: it never changes; copy it into a new working version", v.ID)
	}
	if v.ApprovalState == ApprovalInProgress {
		return Errorf(ECONFLICT, "version %d is going up the approval chain: reopen it (or have it rejected) to change it", v.ID)
	}
	if r.Status == RoundDraft || r.Status == RoundClosed {
		return Errorf(ECONFLICT, "round %s is %s: targets change only while it is under way", r.Code, r.Status)
	}
	return nil
}

// fieldError is an *Error of code about one input field.
func fieldError(code, field, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	return &Error{Code: code, Message: field + ": " + msg, Fields: []FieldError{{Field: field, Message: msg}}}
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
