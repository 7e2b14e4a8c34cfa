package planning

import (
	"context"
	"time"
)

// VersionStatus says whether a version may still change.
type VersionStatus string

// A working version is editable; a frozen one never changes again.
const (
	VersionWorking VersionStatus = "working"
	VersionFrozen  VersionStatus = "frozen"
)

// Version is one complete set of targets of a round. Versions form a lineage
// through ParentID: a new working version starts as a copy of another.
type Version struct {
	ID       int64
	RoundID  int64
	Number   int // 1, 2, … within the round
	Label    string
	Purpose  string // e.g. "top-down", "after counterproposals", "re-forecast Q2"
	Status   VersionStatus
	ParentID *int64
	// Revision grows with every change to the version or its cells; it is
	// the version's ETag, so a client can tell that the grid it read is
	// still current.
	Revision  int64
	CellCount int64
	CreatedBy *int64
	CreatedAt time.Time
	FrozenBy  *int64
	FrozenAt  *time.Time
	// ApprovalState says where the version is in the approval chain, and
	// ApprovalStep which step of it is current while it is in progress.
	ApprovalState ApprovalState
	ApprovalStep  int
}

// Validate checks the label and purpose.
func (v *Version) Validate() error {
	var val Validation
	validateName(&val, "label", v.Label, false)
	validateName(&val, "purpose", v.Purpose, false)
	return val.Err()
}

// VersionFilter selects the versions of a round.
type VersionFilter struct {
	RoundID int64
	Status  VersionStatus
	Page    PageRequest
}

// VersionService manages versions. Everybody signed in reads them.
type VersionService interface {
	FindVersionByID(ctx context.Context, id int64) (*Version, error)
	FindVersions(ctx context.Context, filter VersionFilter) ([]*Version, string, error)
	// CopyVersion creates a new working version of the round holding a copy
	// of every cell of the version from, and makes it the round's working
	// version. Strategy office, admin and product managers; ECONFLICT when
	// the round is a draft or closed.
	CopyVersion(ctx context.Context, from int64, label, purpose string) (*Version, error)
	// FreezeVersion makes a working version immutable. Strategy office and
	// admin; ECONFLICT when it is frozen already.
	FreezeVersion(ctx context.Context, id int64, ifMatch *int64) (*Version, error)
}
