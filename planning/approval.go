package planning

import (
	"context"
	"time"
)

// ApprovalState is where a version stands in its round's approval chain.
type ApprovalState string

// A version is outside the chain (none), going up it (in_approval), or
// approved at its end. A rejection sends it back to none.
const (
	ApprovalNone       ApprovalState = "none"
	ApprovalInProgress ApprovalState = "in_approval"
	ApprovalApproved   ApprovalState = "approved"
)

// Approval actions.
const (
	ActSubmit  = "submit"
	ActApprove = "approve"
	ActReject  = "reject"
	ActReopen  = "reopen"
)

// ApprovalAction is one recorded action on a version's approval.
type ApprovalAction struct {
	ID        int64
	VersionID int64
	Step      int // index into the round's chain
	Action    string
	ActorID   int64
	Comment   string
	At        time.Time
}

// ApprovalStepStatus is one step of the chain as it stands for a version.
type ApprovalStepStatus struct {
	Step    int
	Role    Role
	Action  string // submit, review or approve
	State   string // done, current or pending
	ActorID *int64
	At      *time.Time
	Comment string
	// Took is how long the step took: from the previous step's action (or
	// the submission) to this one's; for the current step, so far.
	Took time.Duration
}

// Approval is a version's approval: the chain with each step's state, who
// is next, and every action taken, rejections included.
type Approval struct {
	VersionID int64
	State     ApprovalState
	Current   int // index of the current step when in approval
	NextRole  *Role
	Steps     []ApprovalStepStatus
	History   []ApprovalAction
	Revision  int64
}

// ApprovalService runs a round's approval chain on a version.
type ApprovalService interface {
	// FindApproval returns the version's approval.
	FindApproval(ctx context.Context, versionID int64) (*Approval, error)
	// Act takes an action: submit (the chain's first role, on a working
	// version of a round in review, or a re-forecast of an approved round),
	// approve or reject (the current step's role; never the submitter),
	// reopen (the submitter, the strategy office or an admin take a version
	// in approval back). ECONFLICT out of turn, EFORBIDDEN for the wrong
	// role. The final approval freezes the version and makes it the round's
	// budget of record.
	Act(ctx context.Context, versionID int64, action, comment string, ifMatch *int64) (*Approval, error)
}
