package sqlstore

import (
	"context"

	"github.com/cascade-planning/cascade/planning"
)

// NewServices returns every planning service backed by db. With a read
// replica attached (AttachReplica), ReadOnly runs read-only requests on the
// same services backed by the replica while it keeps up.
func NewServices(db *DB) planning.Services {
	s := newServices(db)
	if r := db.replica; r != nil {
		primary, onReplica := s, newServices(r.db)
		s.ReadOnly = func(ctx context.Context, fn func(planning.Services) error) error {
			return r.readOnly(ctx, primary, onReplica, fn)
		}
	}
	return s
}

func newServices(db *DB) planning.Services {
	s := planning.Services{
		OrgUnits:     &OrgUnitService{db: db},
		ProductLines: &ProductLineService{db: db},
		Measures:     &MeasureService{db: db},
		Seasonality:  &SeasonalityProfileService{db: db},
		Users:        &UserService{db: db},
		Tokens:       &TokenService{db: db},
		Sessions:     &SessionService{db: db},
		Audit:        &AuditService{db: db},
		Rounds:       &RoundService{db: db},
		Versions:     &VersionService{db: db},
		Targets:      &TargetService{db: db},
		Proposals:    &CounterproposalService{db: db, targets: &TargetService{db: db}},
		Approvals:    &ApprovalService{db: db},
		Idempotency:  &IdempotencyService{db: db},
		Events:       &EventService{db: db},
		Webhooks:     &WebhookService{db: db},
		Ping:         db.Ping,
		Atomically:   db.Atomically,

		// Assessment against the budget of record, and its documents.
		Actuals:         &ActualService{db: db},
		Attainment:      &AttainmentService{db: db},
		ApprovalRecords: &ApprovalRecordService{db: db},
		Scorecards:      &ScorecardService{db: db, attainment: &AttainmentService{db: db}},

		// Allocations in the background, with progress and cancel.
		AllocationJobs: &AllocationJobService{db: db, targets: &TargetService{db: db}},
	}
	s.Resolve = planning.NewResolveService(s)
	s.Letters = planning.NewLetterService(s)
	return s
}
