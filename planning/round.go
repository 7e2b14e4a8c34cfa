package planning

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// RoundStatus is a phase of a planning round.
type RoundStatus string

// The phases of the cycle, in order.
const (
	RoundDraft            RoundStatus = "draft"
	RoundOpen             RoundStatus = "open" // top-down allocation
	RoundCounterproposals RoundStatus = "counterproposals"
	RoundReview           RoundStatus = "review"
	RoundApproved         RoundStatus = "approved"
	RoundClosed           RoundStatus = "closed"
)

// RoundStatuses lists every phase in order.
var RoundStatuses = []RoundStatus{RoundDraft, RoundOpen, RoundCounterproposals, RoundReview, RoundApproved, RoundClosed}

// Valid reports whether s is a known phase.
func (s RoundStatus) Valid() bool { return slices.Contains(RoundStatuses, s) }

// RoundTransitionRule says who may move a round from one phase to another.
type RoundTransitionRule struct {
	From, To RoundStatus
	Roles    []Role
	// What the move does and needs, for people reading the 409 that lists
	// the possible moves.
	Description string
}

// RoundTransitions is the round's state machine. A move not listed here is
// illegal. Moving to approved is the president's sign-off and freezes the
// round's working version as the budget of record.
var RoundTransitions = []RoundTransitionRule{
	{RoundDraft, RoundOpen, []Role{RoleStrategyOffice, RoleAdmin}, "open the round for top-down allocation; needs at least one measure; creates the first working version"},
	{RoundOpen, RoundCounterproposals, []Role{RoleStrategyOffice, RoleAdmin}, "publish the targets to the branches for counterproposals"},
	{RoundCounterproposals, RoundOpen, []Role{RoleStrategyOffice, RoleAdmin}, "back to top-down allocation"},
	{RoundCounterproposals, RoundReview, []Role{RoleStrategyOffice, RoleAdmin}, "close counterproposals and send the plan up the approval chain"},
	{RoundReview, RoundCounterproposals, []Role{RoleStrategyOffice, RoleAdmin}, "back to counterproposals"},
	{RoundReview, RoundOpen, []Role{RoleStrategyOffice, RoleAdmin}, "back to top-down allocation"},
	{RoundReview, RoundApproved, []Role{RolePresident}, "taken by the final step of the approval chain (POST /versions/{id}/approval/actions): freezes the approved version as the budget of record"},
	{RoundApproved, RoundClosed, []Role{RoleStrategyOffice, RoleAdmin}, "close the round; the budget of record stays"},
}

// TransitionsFrom returns the rules that leave status s.
func TransitionsFrom(s RoundStatus) []RoundTransitionRule {
	var out []RoundTransitionRule
	for _, r := range RoundTransitions {
		if r.From == s {
			out = append(out, r)
		}
	}
	return out
}

// FindTransition returns the rule for from → to, or nil when illegal.
func FindTransition(from, to RoundStatus) *RoundTransitionRule {
	for i := range RoundTransitions {
		if RoundTransitions[i].From == from && RoundTransitions[i].To == to {
			return &RoundTransitions[i]
		}
	}
	return nil
}

// Deadline is the due date of one phase of a round.
type Deadline struct {
	Phase RoundStatus
	Due   time.Time
}

// ApprovalStep is one step of a round's approval chain: the role that acts
// and what it does (submit, review or approve).
type ApprovalStep struct {
	Role   Role
	Action string
}

// Approval chain actions.
const (
	StepSubmit  = "submit"
	StepReview  = "review"
	StepApprove = "approve"
)

// DefaultApprovalChain is the deck's chain: the product managers submit, the
// sales and marketing directors review, the president approves.
func DefaultApprovalChain() []ApprovalStep {
	return []ApprovalStep{
		{RoleProductManager, StepSubmit},
		{RoleSalesDirector, StepReview},
		{RoleMarketingDirector, StepReview},
		{RolePresident, StepApprove},
	}
}

// Round is one annual planning cycle for a fiscal year.
type Round struct {
	ID         int64
	Code       string
	Name       string
	FiscalYear int
	// FirstMonth is the calendar month (1-12) the fiscal year starts in; the
	// fiscal year Y runs from FirstMonth of calendar year Y for 12 months.
	FirstMonth int
	MeasureIDs []int64
	// Measures names the measures of MeasureIDs, in that order, for
	// readers: the RoundService methods that return a round fill it.
	Measures      []MeasureRef
	Calendar      []Deadline
	ApprovalChain []ApprovalStep
	// SeparationOfDuties is how strictly the chain keeps people apart;
	// empty means the floor, SeparateWithinVersion.
	SeparationOfDuties DutySeparation
	Status             RoundStatus
	// WorkingVersionID is the version the round currently works on;
	// RecordVersionID the approved budget of record, once signed off.
	WorkingVersionID *int64
	RecordVersionID  *int64
	Revision         int64
	CreatedBy        *int64
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// MeasureRef names a measure and the decimal places its amounts keep.
type MeasureRef struct {
	ID    int64
	Code  string
	Scale int32
}

// Months returns the round's twelve months as "YYYY-MM", first month first.
func (r *Round) Months() []string {
	out := make([]string, 12)
	for i := range out {
		out[i] = r.MonthLabel(i + 1)
	}
	return out
}

// MonthLabel returns the "YYYY-MM" of fiscal period p (1-12).
func (r *Round) MonthLabel(p int) string {
	m := r.FirstMonth - 1 + p - 1
	return fmt.Sprintf("%04d-%02d", r.FiscalYear+m/12, m%12+1)
}

// PeriodOf returns the fiscal period (1-12) of a "YYYY-MM" month, or an
// error when the month is malformed or outside the round's year.
func (r *Round) PeriodOf(month string) (int, error) {
	var y, m int
	if len(month) != 7 || month[4] != '-' {
		return 0, fmt.Errorf("must be a month \"YYYY-MM\"")
	}
	if _, err := fmt.Sscanf(month, "%4d-%2d", &y, &m); err != nil || m < 1 || m > 12 || !allDigits(month[:4]) || !allDigits(month[5:]) {
		return 0, fmt.Errorf("must be a month \"YYYY-MM\"")
	}
	p := (y-r.FiscalYear)*12 + m - r.FirstMonth + 1
	if p < 1 || p > 12 {
		return 0, fmt.Errorf("%s is outside the round's fiscal year (%s to %s)", month, r.MonthLabel(1), r.MonthLabel(12))
	}
	return p, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Validate checks the fields a caller sets.
func (r *Round) Validate() error {
	var v Validation
	validateCode(&v, "code", r.Code)
	validateName(&v, "name", r.Name, true)
	if r.FiscalYear < 1900 || r.FiscalYear > 2999 {
		v.Add("fiscal_year", "must be a year between 1900 and 2999")
	}
	if r.FirstMonth < 1 || r.FirstMonth > 12 {
		v.Add("first_month", "must be a month number between 1 and 12")
	}
	seen := map[int64]bool{}
	for i, id := range r.MeasureIDs {
		if seen[id] {
			v.Add(fieldIndex("measures", i), "is listed twice")
		}
		seen[id] = true
	}
	phases := map[RoundStatus]bool{}
	for i, d := range r.Calendar {
		if !d.Phase.Valid() {
			v.Add(fieldIndex("calendar", i)+".phase", "must be one of %v", RoundStatuses)
		} else if phases[d.Phase] {
			v.Add(fieldIndex("calendar", i)+".phase", "has a deadline already")
		}
		phases[d.Phase] = true
		if d.Due.IsZero() {
			v.Add(fieldIndex("calendar", i)+".due", "is required")
		}
	}
	if r.SeparationOfDuties != "" && !r.SeparationOfDuties.Valid() {
		v.Add("separation_of_duties", "must be one of %v", DutySeparations)
	}
	if len(r.ApprovalChain) == 0 {
		v.Add("approval_chain", "must have at least one step")
	}
	for i, s := range r.ApprovalChain {
		f := fieldIndex("approval_chain", i)
		if !s.Role.Valid() {
			v.Add(f+".role", "must be one of %v", Roles)
		}
		if s.Action != StepSubmit && s.Action != StepReview && s.Action != StepApprove {
			v.Add(f+".action", "must be submit, review or approve")
		}
	}
	if n := len(r.ApprovalChain); n > 0 && r.ApprovalChain[n-1].Action != StepApprove {
		v.Add("approval_chain", "must end with an approve step")
	}
	if n := len(r.ApprovalChain); n > 0 && r.ApprovalChain[0].Action != StepSubmit {
		v.Add("approval_chain", "must start with a submit step")
	}
	for i := 1; i < len(r.ApprovalChain); i++ {
		if r.ApprovalChain[i].Action == StepSubmit {
			v.Add(fieldIndex("approval_chain", i)+".action", "only the first step submits")
		}
	}
	return v.Err()
}

// RoundTransition records one move of a round between phases.
type RoundTransition struct {
	ID      int64
	RoundID int64
	From    RoundStatus
	To      RoundStatus
	ActorID *int64
	Comment string
	At      time.Time
}

// RoundFilter selects rounds.
type RoundFilter struct {
	FiscalYear *int
	Status     RoundStatus
	Page       PageRequest
}

// RoundUpdate changes a round's name, calendar or chain. Chain and measures
// change only while the round is a draft (ECONFLICT otherwise).
type RoundUpdate struct {
	Name          *string
	MeasureIDs    *[]int64
	Calendar      *[]Deadline
	ApprovalChain *[]ApprovalStep
	// SeparationOfDuties changes at any time while the round is a draft,
	// and afterwards only toward stricter (see CheckDutySeparationChange).
	SeparationOfDuties *DutySeparation
	IfMatch            *int64
}

// RoundService manages planning rounds. Everybody signed in reads rounds.
type RoundService interface {
	FindRoundByID(ctx context.Context, id int64) (*Round, error)
	FindRounds(ctx context.Context, filter RoundFilter) ([]*Round, string, error)
	// CreateRound creates a draft round. Strategy office and admin only
	// (EFORBIDDEN). An empty chain gets DefaultApprovalChain.
	CreateRound(ctx context.Context, r *Round) error
	UpdateRound(ctx context.Context, id int64, upd RoundUpdate) (*Round, error)
	// TransitionRound moves a round to another phase. Returns ECONFLICT,
	// naming the moves possible now, for an illegal move; EFORBIDDEN when
	// the actor's role may not take it; EINVALID when a precondition fails.
	TransitionRound(ctx context.Context, id int64, to RoundStatus, comment string, ifMatch *int64) (*Round, error)
	// FindRoundTransitions lists the round's moves, oldest first.
	FindRoundTransitions(ctx context.Context, roundID int64) ([]*RoundTransition, error)
}
