// Package api is the HTTP layer of Cascade: an echo server with the routes of
// DESIGN.md's resource map, bearer-token authentication, strict JSON decoding,
// RFC 9457 problem responses, ETags, structured request logs and Prometheus
// metrics. Handlers translate between JSON DTOs and the planning domain and
// call the planning services, which make every authorization decision.
//
// Besides the API under /api/v1 the server answers, without authentication:
//
//	GET /healthz              the process is up
//	GET /readyz               the database answers (503 problem+json when not)
//	GET /openapi.json         this API as OpenAPI 3.0
//	GET /swagger/index.html   Swagger UI, on /openapi.json
//	GET /metrics              Prometheus metrics
//
// Conventions, beyond DESIGN.md's:
//
//   - Request bodies are JSON objects of at most Config.BodyLimit bytes
//     (1 MiB by default; 413 beyond). Decoding is strict: unknown fields,
//     values of the wrong JSON type, duplicate keys, keys that are not
//     lower-case snake_case, invalid UTF-8, nesting deeper than 32 levels and
//     data after the object are 400, with the offending field in errors[].
//     Broken rules about values (a malformed decimal, a missing name) are 422.
//   - List endpoints reject query parameters they do not know, and
//     parameters given twice (400), so a typo never silently widens a list.
//   - PATCH changes the fields present in the body and leaves absent ones;
//     null means "absent" except where a field documents that null clears it
//     (product line owner_id).
//   - ETags are the resource's revision as a strong tag, "3". If-Match takes
//     one such tag or "*"; a weak tag never matches (412), anything else is
//     400. Without If-Match a write is unconditional.
//   - Every error is application/problem+json with type
//     "urn:cascade:problem:<code>" for the domain's codes (about:blank for
//     plain HTTP errors such as 405 and 415), the domain code in "code", the
//     request id in "request_id", and "errors" always present.
//   - Times are RFC 3339 in UTC. Weights and amounts are decimal strings.
//
// The OpenAPI description is generated from the annotations on the handlers
// (see gen.go for the command), converted to OpenAPI 3.0 and completed from
// the DTO types (see openapi.go).
//
//	@title						Cascade API
//	@version					1.0
//	@description				Annual business planning: master data (org units, product lines, measures, seasonality profiles, users, roles, tokens), planning rounds and their versions, target grids, the allocation engine, counterproposals, the approval chain, actuals and attainment, spreadsheets (export, target letters, re-import) and the audit trail.
//	@description				All amounts and weights are decimal strings. Every error is an RFC 9457 application/problem+json document.
//	@description				Mutable resources carry an ETag; send it back in If-Match to make a write fail with 412 when someone else changed the resource first.
//	@description				A POST with an Idempotency-Key header is safe to retry: a repeat with the same key and body gets the first response again, marked Idempotent-Replayed: true.
//	@description				Operational endpoints outside the base path, without authentication: GET /healthz, GET /readyz, GET /openapi.json, GET /swagger/index.html, GET /metrics.
//	@license.name				Apache-2.0
//	@license.url				https://www.apache.org/licenses/LICENSE-2.0
//	@tag.name					me
//	@tag.description			The caller: user, roles and scope
//	@tag.name					org-units
//	@tag.description			The organisation tree: company, regions, branches, teams
//	@tag.name					product-lines
//	@tag.description			Product lines and their owners
//	@tag.name					measures
//	@tag.description			What is planned: revenue, margin, units, with their scale
//	@tag.name					seasonality-profiles
//	@tag.description			Monthly weights that spread a yearly amount over months
//	@tag.name					users
//	@tag.description			Users and their role assignments
//	@tag.name					sessions
//	@tag.description			Console sign-in: password sessions in an HttpOnly cookie, CSRF-protected writes, one-time password links
//	@tag.name					tokens
//	@tag.description			API tokens
//	@tag.name					audit
//	@tag.description			The audit trail of every change
//	@tag.name					rounds
//	@tag.description			Planning rounds: one annual cycle each, moving through its phases
//	@tag.name					versions
//	@tag.description			Versions of a round's plan: working, frozen, record
//	@tag.name					targets
//	@tag.description			The target grid, allocation runs, diffs, consistency and cell history
//	@tag.name					counterproposals
//	@tag.description			Counterproposals from org units, their review and comments
//	@tag.name					approval
//	@tag.description			The approval chain of a version
//	@tag.name					actuals
//	@tag.description			Actual figures, imported from CSV or XLSX
//	@tag.name					attainment
//	@tag.description			Attainment of targets by actuals, and rankings
//	@tag.name					scorecards
//	@tag.description			Weighted KPI scorecards per org level, scores and rankings on them
//	@tag.name					spreadsheets
//	@tag.description			Workbook export, target letters and workbook re-import
//	@tag.name					events
//	@tag.description			The caller's domain events, scoped, as Server-Sent Events or pages
//	@tag.name					webhooks
//	@tag.description			Signed webhook endpoints (Standard Webhooks 1.0), their delivery logs and replays
//	@BasePath					/api/v1
//	@accept						json
//	@produce					json
//	@securityDefinitions.apikey	BearerAuth
//	@in							header
//	@name						Authorization
//	@description				"Bearer " followed by an API token, e.g. "Bearer cas_…".
package api
