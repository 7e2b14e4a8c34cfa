package planning

import (
	"slices"
	"time"
)

// DeadlineKind is what a deadline timer does when it fires.
type DeadlineKind string

// The timers of each phase deadline of a round's calendar: two reminders
// before it, to those who have not answered, and the escalation after it,
// to the product managers and the strategy office.
const (
	DeadlineRemind3Days DeadlineKind = "remind_3d"
	DeadlineRemind1Day  DeadlineKind = "remind_1d"
	DeadlineEscalate    DeadlineKind = "escalate"
)

// DeadlineOffsets is when each kind fires, relative to the deadline.
var DeadlineOffsets = []struct {
	Kind   DeadlineKind
	Offset time.Duration
}{
	{DeadlineRemind3Days, -72 * time.Hour},
	{DeadlineRemind1Day, -24 * time.Hour},
	{DeadlineEscalate, 0},
}

// EscalationRoles are told when a phase deadline passes with people who
// have not answered.
var EscalationRoles = []Role{RoleProductManager, RoleStrategyOffice}

// DeadlineTimer is one durable timer of a round's calendar.
type DeadlineTimer struct {
	ID      int64
	RoundID int64
	Phase   RoundStatus
	Kind    DeadlineKind
	Due     time.Time
	FireAt  time.Time
}

// DeadlineTimers are the timers a round's calendar asks for now: one per
// kind and phase deadline, none once the round is closed. The store keeps
// them in a table and replaces the unfired ones whenever the round
// changes, so a moved deadline moves its reminders.
func (r *Round) DeadlineTimers() []DeadlineTimer {
	if r.Status == RoundClosed {
		return nil
	}
	var out []DeadlineTimer
	for _, d := range r.Calendar {
		for _, o := range DeadlineOffsets {
			out = append(out, DeadlineTimer{RoundID: r.ID, Phase: d.Phase, Kind: o.Kind, Due: d.Due.UTC(), FireAt: d.Due.UTC().Add(o.Offset)})
		}
	}
	return out
}

// Applies reports whether a timer that is due still has something to say:
// its phase is the round's current one (a phase already left needs no
// reminder, one not yet begun has no answers to wait for).
func (t DeadlineTimer) Applies(r *Round) bool { return r.Status == t.Phase }

// Superseded reports whether a reminder has nothing left to say at now
// because a later timer of the same deadline is due too: a deadline set
// less than a day ahead, or a server that was down, would otherwise send
// the 3-day and the 1-day reminder (and the escalation) at once. The
// latest due timer speaks for all of them.
func (t DeadlineTimer) Superseded(now time.Time) bool {
	offset := t.FireAt.Sub(t.Due)
	for _, o := range DeadlineOffsets {
		if o.Offset > offset && !now.Before(t.Due.Add(o.Offset)) {
			return true
		}
	}
	return false
}

// EventType is the event a firing timer reports.
func (t DeadlineTimer) EventType() EventType {
	if t.Kind == DeadlineEscalate {
		return EventDeadlinePassed
	}
	return EventDeadlineApproaching
}

// DeadlineAnswers is what the store knows, when a timer fires, about who
// has answered the phase.
type DeadlineAnswers struct {
	// Assignments are every active user's role assignments.
	Assignments []RoleAssignment
	// AnsweredUnits are the org units with a counterproposal submitted or
	// closed in the round's working version.
	AnsweredUnits map[int64]bool
	// NextApprovalRole is the role whose step of the chain waits, if any.
	NextApprovalRole *Role
}

// Waiting is one person a phase waits on, and for which unit.
type Waiting struct {
	UserID    int64
	OrgUnitID *int64
}

// WaitingOn lists who has not answered a phase: in the counterproposal
// phase, the branch managers and team leads whose unit has no submitted
// counterproposal (the same people "my work" shows a review task); in
// review, the holders of the waiting approval step's role. Other phases
// wait on nobody in particular.
func WaitingOn(phase RoundStatus, ans DeadlineAnswers) []Waiting {
	var out []Waiting
	for _, ra := range ans.Assignments {
		switch phase {
		case RoundCounterproposals:
			if ra.Role.Scoped() && ra.OrgUnitID != nil && !ans.AnsweredUnits[*ra.OrgUnitID] {
				out = append(out, Waiting{UserID: ra.UserID, OrgUnitID: ra.OrgUnitID})
			}
		case RoundReview:
			if ans.NextApprovalRole != nil && ra.Role == *ans.NextApprovalRole {
				out = append(out, Waiting{UserID: ra.UserID})
			}
		}
	}
	return out
}

// Escalated lists the users an escalation goes to: every holder of an
// escalation role.
func Escalated(assignments []RoleAssignment) []int64 {
	var out []int64
	for _, ra := range assignments {
		if slices.Contains(EscalationRoles, ra.Role) {
			out = append(out, ra.UserID)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
