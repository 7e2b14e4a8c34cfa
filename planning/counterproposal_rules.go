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
	// Measures are the round's measures, by id, when known: a proposed
	// rating must lie on its scale.
	Measures map[int64]*Measure
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
		} else if m := c.Measures[l.MeasureID]; m != nil {
			// A rate, level or rating is proposed for the unit itself (a
			// decision sets its own cells only); a rating on its scale.
			m.CheckValue(v, f+".proposed", l.Proposed)
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

// fieldError is an *Error of code about one input field.
func fieldError(code, field, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	return &Error{Code: code, Message: field + ": " + msg, Fields: []FieldError{{Field: field, Message: msg}}}
}
