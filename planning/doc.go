// Package planning is the domain of Cascade: org units, product lines,
// measures, seasonality profiles, users, roles and tokens, and the audit
// trail, with the rules that govern them.
//
// The package defines the entities, the service interfaces that adapters
// implement (see planning/sqlstore) and the one authorization policy every
// service applies (see Actor). It imports neither the HTTP framework nor the
// SQL toolkit: adapters depend on it, never the other way round.
package planning
