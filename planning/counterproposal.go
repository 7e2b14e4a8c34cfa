package planning

import (
	"context"
	"time"

	"github.com/shopspring/decimal"
)

// CounterproposalStatus is where a counterproposal stands.
type CounterproposalStatus string

// A counterproposal is drafted, submitted to the product managers, and
// closed once every line is decided; it can be withdrawn while undecided.
const (
	CPDraft     CounterproposalStatus = "draft"
	CPSubmitted CounterproposalStatus = "submitted"
	CPClosed    CounterproposalStatus = "closed"
	CPWithdrawn CounterproposalStatus = "withdrawn"
)

// Decision is a product manager's answer to one line.
type Decision string

// Accept takes the proposed amount, Modify the decider's own, Reject none.
const (
	DecisionAccept Decision = "accept"
	DecisionModify Decision = "modify"
	DecisionReject Decision = "reject"
)

// ApplyMode says how an accepted change keeps the tree consistent.
type ApplyMode string

// Rebalance keeps the parent's amount and spreads the difference over the
// siblings; RaiseParent lets the difference flow up to the top.
const (
	ApplyRebalance   ApplyMode = "rebalance"
	ApplyRaiseParent ApplyMode = "raise_parent"
)

// YearPeriod marks a counterproposal line about the whole year rather than
// one month.
const YearPeriod = 0

// Counterproposal is an org unit's answer to its targets in a version: lines
// proposing other amounts, with reasons.
type Counterproposal struct {
	ID          int64
	VersionID   int64
	OrgUnitID   int64
	Title       string
	Status      CounterproposalStatus
	AuthorID    int64
	Revision    int64
	CreatedAt   time.Time
	UpdatedAt   time.Time
	SubmittedAt *time.Time
	ClosedAt    *time.Time
	Lines       []CounterproposalLine
	// OrgUnitCode and AuthorName name the unit and the author for readers;
	// the services that return a counterproposal fill them.
	OrgUnitCode string
	AuthorName  string
}

// CounterproposalLine proposes one amount: a product line's measure in one
// month, or over the whole year (Period YearPeriod).
type CounterproposalLine struct {
	ID            int64
	ProductLineID int64
	MeasureID     int64
	Period        int
	Proposed      decimal.Decimal
	Reason        string
	// Current is the target in the version now (the year's sum for a year
	// line), and Delta = Proposed − Current; filled on read.
	Current decimal.Decimal
	Delta   decimal.Decimal
	// The decision, once made.
	Decision        Decision
	DecidedAmount   *decimal.Decimal
	DecisionComment string
	ApplyMode       ApplyMode
	DecidedBy       *int64
	DecidedAt       *time.Time
	// The codes and names a reader sees, filled by the services that
	// return a counterproposal: the product line's and measure's codes,
	// the measure's scale, the period as "YYYY-MM" of the round's year (or
	// "year"), and the decider's name.
	ProductLineCode string
	MeasureCode     string
	Scale           int32
	PeriodLabel     string
	DecidedByName   string
}

// Decided reports whether the line has a decision.
func (l *CounterproposalLine) Decided() bool { return l.Decision != "" }

// LineInput is a line as a branch drafts it.
type LineInput struct {
	ProductLineID int64
	MeasureID     int64
	Period        int // 1-12, or YearPeriod
	Proposed      decimal.Decimal
	Reason        string
}

// LineDecision is a product manager's decision on one line.
type LineDecision struct {
	LineID  int64
	Action  Decision
	Amount  *decimal.Decimal // for DecisionModify
	Comment string
	Apply   ApplyMode // for accept and modify; default rebalance
}

// Comment is one message in a counterproposal's thread.
type Comment struct {
	ID        int64
	AuthorID  int64
	Body      string
	CreatedAt time.Time
	// AuthorName is filled by FindComments.
	AuthorName string
}

// CounterproposalFilter selects counterproposals.
type CounterproposalFilter struct {
	VersionID int64
	OrgUnitID *int64
	Status    CounterproposalStatus
	// AwaitingDecisionBy lists only those with undecided lines of product
	// lines this user owns (a product manager's inbox).
	AwaitingDecisionBy *int64
	Page               PageRequest
}

// CounterproposalCount is one row of the strategy office's overview.
type CounterproposalCount struct {
	OrgUnitID     int64
	ProductLineID int64
	Status        CounterproposalStatus
	Lines         int64
	Undecided     int64
	// OrgUnitCode and ProductLineCode name them ("" for no product line).
	OrgUnitCode     string
	ProductLineCode string
}

// CounterproposalService runs the bottom-up half of the cycle. Branch
// managers and team leads draft for the units in their scope; product
// managers decide the lines of their product lines. Invisible
// counterproposals are ENOTFOUND.
type CounterproposalService interface {
	// CreateCounterproposal drafts a counterproposal against the round's
	// working version. ECONFLICT outside the counterproposal phase or after
	// its deadline.
	CreateCounterproposal(ctx context.Context, versionID, orgUnitID int64, title string, lines []LineInput) (*Counterproposal, error)
	FindCounterproposalByID(ctx context.Context, id int64) (*Counterproposal, error)
	FindCounterproposals(ctx context.Context, filter CounterproposalFilter) ([]*Counterproposal, string, error)
	// UpdateCounterproposal replaces a draft's title and lines (author only).
	UpdateCounterproposal(ctx context.Context, id int64, title *string, lines *[]LineInput, ifMatch *int64) (*Counterproposal, error)
	// Submit sends a draft to the product managers; Withdraw takes back a
	// draft or a submitted counterproposal with no decided line.
	Submit(ctx context.Context, id int64, ifMatch *int64) (*Counterproposal, error)
	Withdraw(ctx context.Context, id int64, ifMatch *int64) (*Counterproposal, error)
	// Decide records the product manager's decisions on some lines and
	// applies accepted and modified ones to the working version in the
	// same transaction, keeping every level consistent.
	Decide(ctx context.Context, id int64, decisions []LineDecision, ifMatch *int64) (*Counterproposal, error)
	// PreviewDecision runs Decide and rolls it back, returning how the
	// decided lines would change the year totals of the unit, its parent
	// and ancestors, its siblings and its children. It changes nothing and
	// answers the errors Decide would.
	PreviewDecision(ctx context.Context, id int64, decisions []LineDecision) ([]DecisionEffect, error)
	AddComment(ctx context.Context, id int64, body string) (*Comment, error)
	FindComments(ctx context.Context, id int64) ([]*Comment, error)
	// CountCounterproposals summarises a version's counterproposals by
	// unit, product line and state (strategy office overview).
	CountCounterproposals(ctx context.Context, versionID int64) ([]CounterproposalCount, error)
}

// DecisionEffect is how a decision would change one unit's year total of
// one counterproposal line's product line and measure.
type DecisionEffect struct {
	LineID   int64
	OrgUnit  *OrgUnit
	Relation string // unit, parent, ancestor, sibling or child
	Before   decimal.Decimal
	After    decimal.Decimal
	// Scale is the decimal places of the line's measure.
	Scale int32
}
