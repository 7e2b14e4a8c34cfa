package planning

import "context"

// Services bundles every service a storage adapter provides, so the HTTP
// layer and the command line can be wired from one value.
type Services struct {
	OrgUnits     OrgUnitService
	ProductLines ProductLineService
	Measures     MeasureService
	Seasonality  SeasonalityProfileService
	Users        UserService
	Tokens       TokenService
	Sessions     SessionService
	Audit        AuditService
	Rounds       RoundService
	Versions     VersionService
	Targets      TargetService
	Proposals    CounterproposalService
	Approvals    ApprovalService
	Idempotency  IdempotencyService
	// Actuals, Attainment and ApprovalRecords serve the assessment against
	// the budget of record and the documents made from it.
	Actuals         ActualService
	Attainment      AttainmentService
	ApprovalRecords ApprovalRecordService
	// Scorecards assess the units of a level on weighted KPIs.
	Scorecards ScorecardService
	// Events reads the outbox as the caller's scoped stream; Webhooks
	// manages the endpoints it is delivered to.
	Events   EventService
	Webhooks WebhookService
	// Resolve looks up what a request names (a version and its round, org
	// units, product lines, measures by code or id) in one call.
	Resolve ResolveService
	// Letters gathers the target letters of the budget of record.
	Letters LetterService
	// Ping reports whether the storage is reachable (for readiness checks).
	Ping func(ctx context.Context) error
	// Atomically runs fn in one transaction that every service call made
	// with fn's context joins: the calls commit together, or, if fn fails
	// (or the process dies before the end), none of them does.
	Atomically func(ctx context.Context, fn func(ctx context.Context) error) error
	// ReadOnly, when set, runs fn, the whole of a request that only reads,
	// with the services it should read through: those of a read replica
	// while the replica has replayed the caller's own last write and is
	// not too far behind, otherwise these. When the replica fails fn (it
	// does not answer, or does not find what fn names), fn runs again with
	// these, so fn must have no effect before it succeeds. Nil: there is
	// one database, and fn would read from it anyway.
	ReadOnly func(ctx context.Context, fn func(Services) error) error

	// AllocationJobs runs allocations in the background, with progress
	// and cancel.
	AllocationJobs AllocationJobService
}

// SystemActor is the actor the command line uses for set-up work such as
// loading demo data or creating the first administrator: an administrator
// that is no user, recorded in the audit trail with no actor id.
func SystemActor() *Actor {
	return &Actor{User: &User{ID: 0, Username: "system", Name: "system", Active: true},
		Roles: []RoleAssignment{{Role: RoleAdmin}}}
}
