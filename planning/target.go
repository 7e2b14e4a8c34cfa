package planning

import (
	"context"
	"time"

	"github.com/shopspring/decimal"
)

// Limits of the target grid.
const (
	// MaxBatchCells is the most cells one batch edit may change.
	MaxBatchCells = 10000
	// MaxAllocationCells is the most cells one allocation may write.
	MaxAllocationCells = 2_000_000
)

// Grain is the period granularity of a grid read.
type Grain string

// Months, fiscal quarters (relative to the round's first month) and the year.
const (
	GrainMonth   Grain = "month"
	GrainQuarter Grain = "quarter"
	GrainYear    Grain = "year"
)

// CellKey names one target cell of a version: an org unit's target for a
// product line and a measure in one fiscal period (1-12).
type CellKey struct {
	OrgUnitID     int64
	ProductLineID int64
	MeasureID     int64
	Period        int
}

// Cell is a target amount.
type Cell struct {
	CellKey
	Amount decimal.Decimal
}

// GridFilter selects cells of a version. Zero fields do not filter.
type GridFilter struct {
	VersionID      int64
	OrgUnitID      *int64
	Subtree        bool // the unit and all its descendants, not the unit alone
	ProductLineIDs []int64
	MeasureIDs     []int64
	PeriodFrom     int // 1-12, inclusive; 0 means the first
	PeriodTo       int // 1-12, inclusive; 0 means the last
	Grain          Grain
	Page           PageRequest
}

// GridRow is one row of a grid: an org unit's amounts for one product line
// and measure, by period at the requested grain, with their total.
type GridRow struct {
	OrgUnitID       int64
	OrgUnitCode     string
	ProductLineID   int64
	ProductLineCode string
	MeasureID       int64
	MeasureCode     string
	Scale           int32 // the measure's decimal places
	Periods         []PeriodAmount
	Total           decimal.Decimal
	// TotalAbsent says that the span holds no value by the measure's rule
	// (never for a sum, whose missing cells count as zero): a rate or a
	// rating without a value is not zero.
	TotalAbsent bool
}

// PeriodAmount is the amount of one period: "2027-04", "Q1" or "FY2027".
// Absent says that a measure that does not add up holds no value for the
// period by its rule (Amount is then zero); a sum's period is never
// absent.
type PeriodAmount struct {
	Period string
	Amount decimal.Decimal
	Absent bool
}

// CellEdit sets one cell. Amount must be at the measure's scale.
type CellEdit struct {
	CellKey
	Amount decimal.Decimal
}

// CellWrite is a batch of cells for TargetService.WriteCells: the cells,
// the revision the caller read (nil: any), and whether to only try it.
type CellWrite struct {
	VersionID int64
	Edits     []CellEdit
	IfMatch   *int64
	// DryRun runs every check and the write itself, then undoes it: a
	// dry run that succeeds is a write that succeeds, unless the version
	// changes in between.
	DryRun bool
}

// CellWriteResult says what WriteCells did, or would do.
type CellWriteResult struct {
	// Version is the version after the write; on a dry run, as it is.
	Version *Version
	// Inconsistencies are the places the written cells take part in (each
	// cell's own children, and the cell with its siblings under its
	// parent) where, after the write, children do not add up to their
	// parent, as FindInconsistencies reports them.
	Inconsistencies []Inconsistency
}

// AllocationMethod names how a level's amount is split over the children.
type AllocationMethod string

// Methods per level of a cascade.
const (
	MethodEven         AllocationMethod = "even"
	MethodProportional AllocationMethod = "proportional"
	MethodManual       AllocationMethod = "manual"
)

// LevelSpec says how one level of the tree is split: the method, its weights
// (from a reference version, or given per org unit), manual amounts and the
// over-assignment buffer.
type LevelSpec struct {
	Method AllocationMethod
	// ReferenceVersionID gives proportional weights: each child's current
	// year amount in that version (for the same product line and measure).
	ReferenceVersionID *int64
	// Weights gives proportional weights by org unit id.
	Weights map[int64]decimal.Decimal
	// Manual gives year amounts by org unit id; the rest of the parent is
	// spread evenly over the children without one.
	Manual map[int64]decimal.Decimal
	// Buffer lets the children together carry parent × (1 + Buffer).
	Buffer decimal.Decimal
	// ZeroWeights says what to do when all weights are zero: "even" (fall
	// back to an even split) or "fail".
	ZeroWeights string
}

// PhasingMethod names how a year is spread over the months.
type PhasingMethod string

// Phasing by a seasonality profile, by a reference version's months, or even.
const (
	PhaseEven      PhasingMethod = "even"
	PhaseProfile   PhasingMethod = "profile"
	PhaseReference PhasingMethod = "reference"
)

// Phasing says how annual amounts are spread across the months.
type Phasing struct {
	Method             PhasingMethod
	ProfileID          *int64
	ReferenceVersionID *int64
}

// AllocationTarget is the annual amount of one product line at the root.
type AllocationTarget struct {
	ProductLineID int64
	Amount        decimal.Decimal
}

// AllocationRequest is a top-down cascade on a version.
type AllocationRequest struct {
	VersionID int64
	MeasureID int64
	RootID    int64 // the org unit the amounts start at
	Targets   []AllocationTarget
	// Levels[i] splits depth i below the root; the last spec repeats for
	// deeper levels.
	Levels []LevelSpec
	// Depth is how many levels below the root to fill; 0 means down to the
	// leaves.
	Depth   int
	Phasing Phasing
	// Locks are org units whose current amounts (and whole subtree) stay.
	Locks  []int64
	DryRun bool
	// ExplainUnder asks a dry run to explain the shares of this org
	// unit's children, as a saved run explains them (AllocationRun's
	// Explanation); only with DryRun.
	ExplainUnder *int64
	// IncludeNodes asks a real run to return every node's amounts, as a
	// dry run always does.
	IncludeNodes bool
	// IfMatch, when set, is the version revision the caller based the
	// allocation on (EPRECONDITION when it moved on).
	IfMatch *int64
	// MaxCells is the most cells the run may write; 0 means
	// MaxAllocationCells. Allocation jobs set their own, larger limit.
	MaxCells int64
	// Invalid is what translating the request at the edge found wrong
	// (codes that name nothing, amounts that do not parse), reported once
	// the version is found and before any other check of the request.
	Invalid error
}

// CellLimit is the most cells req may write (ETOOLARGE beyond).
func (req *AllocationRequest) CellLimit() int64 {
	if req.MaxCells > 0 {
		return req.MaxCells
	}
	return MaxAllocationCells
}

// AllocationRun is a recorded allocation: its inputs, the result checksum,
// who ran it and when. Its explanation lists, per node, how its share came.
type AllocationRun struct {
	ID        int64
	VersionID int64
	Request   AllocationRequest
	CellCount int64
	Checksum  string // SHA-256 over the written cells in a fixed order
	ActorID   *int64
	At        time.Time
	// Replayed says the run was recomputed from its recorded inputs and
	// gave the recorded checksum again.
	Replayed    bool
	Explanation []NodeExplanation
	// Redacted says the reader's scope withheld part of the request: a
	// root above the scope (RootID is then 0, and the root's amounts
	// zero), or locks, weights or manual amounts of units outside it.
	Redacted bool
}

// NodeExplanation says how one node's year amount for a product line came
// about, and each of its months: the exact quota, the rounding and the rule
// that decided it.
type NodeExplanation struct {
	OrgUnitID       int64
	OrgUnitCode     string
	ProductLineID   int64
	ProductLineCode string
	Amount          decimal.Decimal
	Basis           string // even, proportional, manual, locked, given, …
	Quota           string // the exact share before rounding, e.g. "33.333…" as "100/3"
	Floor           decimal.Decimal
	Rule            string // exact, largest_remainder, rounded_down, fixed, …
	Rank, Of        int    // the remainder's rank among Of competing remainders
	TieByKey        bool   // an equal remainder was decided by the org unit code
	Reason          string // all of the above in a sentence
	Months          []MonthExplanation
}

// MonthExplanation explains one month of a node.
type MonthExplanation struct {
	Period int
	Amount decimal.Decimal
	Basis  string
	Quota  string
	Rule   string
	Reason string
}

// AllocationResult is what an allocation wrote (or would write, on a dry
// run): every node's year and months, and the run record.
type AllocationResult struct {
	Run   *AllocationRun
	Nodes []AllocatedNode
}

// AllocatedNode is one org unit's allocated amounts for one product line.
type AllocatedNode struct {
	OrgUnitID       int64
	OrgUnitCode     string
	ProductLineID   int64
	ProductLineCode string
	Year            decimal.Decimal
	Months          [12]decimal.Decimal
	Locked          bool
}

// DiffFilter selects the cells a diff compares.
type DiffFilter struct {
	VersionID      int64
	AgainstID      int64
	OrgUnitID      *int64
	Subtree        bool
	ProductLineIDs []int64
	MeasureIDs     []int64
	PeriodFrom     int
	PeriodTo       int
	Page           PageRequest
}

// CellChange is one cell that differs between two versions.
type CellChange struct {
	CellKey
	Before decimal.Decimal // in the "against" version; zero when absent
	After  decimal.Decimal // in this version; zero when absent
	Delta  decimal.Decimal
}

// DiffRollup sums the deltas by one dimension.
type DiffRollup struct {
	// Level is the org tree level whose cells the rollup sums, 1 for the
	// top (the company), 2 for the units under it, and so on: every level
	// holds its own cells, so a sum over several levels would count one
	// change once per level it passed through.
	Level  int
	Key    int64 // org unit, product line or measure id; period for periods
	Before decimal.Decimal
	After  decimal.Decimal
	Delta  decimal.Decimal
}

// Diff compares two versions of the same round.
type Diff struct {
	Changes      []CellChange
	NextCursor   string
	ChangedCells int64
	// ByOrgUnit sums each unit's own changed cells; ByProductLine,
	// ByMeasure and ByPeriod sum the changed cells per org tree level
	// (DiffRollup.Level), so each total means one thing: what changed at
	// that level.
	//
	// Only the changes of measures that add up (aggregation sum) are
	// summed: a market share, a customer count at period end or a rating
	// does not add up over cells, units or months, so its changes are
	// listed cell by cell and counted in NotSummed, never in a rollup.
	ByOrgUnit     []DiffRollup
	ByProductLine []DiffRollup
	ByMeasure     []DiffRollup
	ByPeriod      []DiffRollup
	NotSummed     []DiffNotSummed
}

// DiffNotSummed counts the changed cells of one measure that does not add
// up, which the diff's rollups leave out.
type DiffNotSummed struct {
	MeasureID    int64
	Aggregation  Aggregation
	ChangedCells int64
}

// RollsUp reports whether a diff sums the measure's changes: only a sum's
// changes add up.
func (m *Measure) RollsUp() bool { return m.IsSum() }

// Inconsistency is a place where children do not add up to their parent:
// the parent's amount (times 1 + its buffer), and the children's sum.
type Inconsistency struct {
	ParentID      int64
	ProductLineID int64
	MeasureID     int64
	Period        int
	Expected      decimal.Decimal
	ChildrenSum   decimal.Decimal
	Difference    decimal.Decimal
	// The codes a reader sees, filled by FindInconsistencies: the parent's,
	// the product line's and the measure's, the measure's scale and the
	// period as a "YYYY-MM" month of the round.
	ParentCode      string
	ProductLineCode string
	MeasureCode     string
	Scale           int32
	PeriodLabel     string
}

// TargetService reads and writes a version's target grid. Reads apply the
// actor's org scope (invisible units are ENOTFOUND); writes need a product
// manager on their own product lines (or the strategy office or admin), a
// working version (ECONFLICT when frozen) and a round that is open.
type TargetService interface {
	// FindGrid returns a page of grid rows ordered by org unit path,
	// product line code and measure code.
	FindGrid(ctx context.Context, filter GridFilter) ([]GridRow, string, error)
	// EditCells writes a batch of cells, all or nothing.
	EditCells(ctx context.Context, versionID int64, edits []CellEdit, ifMatch *int64) (*Version, error)
	// WriteCells writes a batch as EditCells does, with the same checks,
	// and reports where the written cells leave children not adding up;
	// with DryRun it undoes the write.
	WriteCells(ctx context.Context, w CellWrite) (*CellWriteResult, error)
	// Allocate runs a top-down cascade and, unless DryRun, writes every
	// resulting cell in one transaction and records the run.
	Allocate(ctx context.Context, req AllocationRequest) (*AllocationResult, error)
	// FindAllocationRuns lists a version's runs, newest first.
	FindAllocationRuns(ctx context.Context, versionID int64, page PageRequest) ([]*AllocationRun, string, error)
	// FindAllocationRunByID returns one run. It replays the run from its
	// recorded inputs, checks the checksum, and explains how the amounts of
	// the children of explainUnder (the run's root when nil) came about.
	FindAllocationRunByID(ctx context.Context, id int64, explainUnder *int64) (*AllocationRun, error)
	// DiffVersions compares two versions of one round.
	DiffVersions(ctx context.Context, filter DiffFilter) (*Diff, error)
	// FindInconsistencies lists where children do not add up.
	FindInconsistencies(ctx context.Context, versionID int64, page PageRequest) ([]Inconsistency, string, error)
}
