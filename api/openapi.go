package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"
	"github.com/swaggo/swag"
)

// The served OpenAPI 3 document is the swag-generated Swagger 2.0 document
// (docs/, from the handlers' annotations) converted by kin-openapi and then
// completed by rules that hold for the whole API, so that no annotation can
// forget them:
//
//   - Schemas are named after their Go type, without the package prefix;
//     times are strings of format date-time.
//   - A response property is required unless its field is omitempty, and
//     nullable when its Go type can encode as null (a pointer, map or raw
//     JSON without omitempty), read from the DTO types by reflection. In a
//     schema used only in request bodies a property is required when its
//     field is tagged validate:"required" (the server refuses a body
//     without it with a 422 naming it); its pointer fields accept null,
//     meaning "absent".
//   - A success that is JSON or a file by request (format=xlsx) documents
//     the JSON schema for application/json and bytes for the file's type.
//   - Every error response is application/problem+json with the Problem
//     schema and an example of its own status; every operation documents
//     400, 401, 429, 500 and 503, those with a body 413 and 415, those with
//     a path parameter 404 and lists 422 for a forged cursor.
//   - Every write (POST, PUT, PATCH, DELETE) takes an Idempotency-Key and its successes may carry
//     Idempotent-Replayed; every 201 carries Location; every success whose
//     body has a revision carries an ETag; 429 and 503 carry Retry-After.
//   - The server URL is absolute: the configured base URL, or the scheme and
//     host the document was requested with (see openAPIDocument).

// openAPITypes are the DTOs the document's schemas describe. Every schema
// must be one of them (TestOpenAPIContract fails otherwise), so a new DTO is
// added here.
var openAPITypes = []any{
	Event{}, EventData{}, EventPage{}, WebhookAttempt{}, WebhookDelivery{}, WebhookDeliveryPage{}, WebhookEndpoint{},
	WebhookEndpointCreate{}, WebhookEndpointList{}, WebhookEndpointPatch{}, WebhookEndpointSecret{}, WebhookReplay{},
	WebhookReplayResult{}, WebhookSecretRotate{},
	ActualImportRefused{}, ActualImportReport{}, ActualPage{}, ActualRow{}, AllocatedNode{}, AllocationLevel{},
	AllocationJob{}, AllocationJobPage{}, AllocationPhasing{}, AllocationRequest{}, AllocationResponse{}, AllocationRun{}, AllocationRunPage{},
	AllocationRunRequest{}, AllocationTarget{}, Approval{}, ApprovalActionRequest{}, ApprovalActionView{},
	ApprovalStep{}, ApprovalStepState{}, AttainmentReport{}, AttainmentRow{}, AuditEvent{}, AuditEventPage{},
	CPComment{}, CPCommentList{}, CPCount{}, CPLine{}, CPLineInput{}, CPOverview{}, CellBatch{}, CellChange{},
	CellHistory{}, CellHistoryEntry{}, CellInput{}, CommentBody{}, Counterproposal{}, CounterproposalCreate{},
	CounterproposalPage{}, CounterproposalPatch{}, Deadline{}, DecisionEffect{}, DecisionPreview{}, DecisionRequest{}, Diff{}, DiffNotSummed{}, DiffRollup{},
	DiffRollups{}, GridPage{}, GridRow{}, ImportProblem{}, Inconsistency{}, InconsistencyPage{},
	LineDecisionInput{}, Me{}, Measure{}, MeasureCreate{}, MeasurePage{}, MeasurePatch{}, MeasureRef{}, RatingScale{},
	MonthExplanation{}, MonthValue{}, NodeExplanation{}, OrgUnit{}, OrgUnitCreate{}, OrgUnitPage{},
	OrgUnitPatch{}, PasswordLinkCreate{}, PasswordLinkCreated{}, PasswordSet{}, PeriodValue{}, PossibleAction{}, Problem{}, ProblemField{}, ProductLine{}, ProductLineCreate{},
	ProductLinePage{}, ProductLinePatch{}, RankedUnit{}, Ranking{}, RoleAssignment{}, RoleAssignmentCreate{},
	RoleAssignmentList{}, Round{}, RoundCreate{}, RoundPage{}, RoundPatch{}, RoundTransition{},
	RoundTransitionList{}, SeasonalityProfile{}, SeasonalityProfileCreate{}, SeasonalityProfilePage{},
	SeasonalityProfilePatch{}, SessionCreate{}, SessionInfo{}, TargetCellChange{}, Task{}, TaskList{}, TargetImportRefused{}, TargetImportReport{}, Token{},
	TokenCreate{}, TokenCreated{}, TokenPage{}, TransitionReason{}, TransitionRequest{}, TransitionRule{}, UnitValue{}, User{},
	UserCreate{}, UserPage{}, UserPatch{}, Version{}, VersionCreate{}, VersionPage{},
	Scorecard{}, ScorecardKPI{}, ScorecardList{}, ScorecardPut{}, ScoreCurve{}, ScoreReport{}, ScoreRounding{},
	ScoreStep{}, KPIScore{}, UnitScore{}, ScoreIssue{}, ScoreIssueList{}, ScoreIssueRequest{}, LetterBatchRequest{},
}

// serverURLPlaceholder stands for the server URL in the document built at
// start-up; each request for it gets its own absolute URL instead.
const serverURLPlaceholder = "https://server.invalid" + pathPrefix

// OpenAPIDocument builds the API's OpenAPI 3.0 description: the generated
// Swagger 2.0 document, converted and completed as described above. Its
// server URL is the base path alone.
func OpenAPIDocument() (*openapi3.T, error) {
	raw, err := swag.ReadDoc()
	if err != nil {
		return nil, err
	}
	var generic map[string]any
	if err := json.Unmarshal([]byte(raw), &generic); err != nil {
		return nil, err
	}
	if err := unprefixDefinitions(generic); err != nil {
		return nil, err
	}
	b, err := json.Marshal(generic)
	if err != nil {
		return nil, err
	}
	var doc2 openapi2.T
	if err := json.Unmarshal(b, &doc2); err != nil {
		return nil, err
	}
	doc, err := openapi2conv.ToV3(&doc2)
	if err != nil {
		return nil, err
	}
	if err := completeSchemas(doc); err != nil {
		return nil, err
	}
	completeOperations(doc)
	// An operation without a security requirement is public on purpose
	// (signing in, setting a password with a one-time link): say so with
	// an explicit empty requirement, security: [].
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			if op.Security == nil {
				op.Security = &openapi3.SecurityRequirements{}
			}
		}
	}
	if c := doc.Info.Contact; c != nil && c.Name == "" && c.URL == "" && c.Email == "" {
		doc.Info.Contact = nil // swag writes an empty one
	}
	doc.Servers = openapi3.Servers{{URL: pathPrefix, Description: "This server"}}
	return doc, nil
}

// unprefixDefinitions renames the definitions "api.X" swag generates to "X",
// references included.
func unprefixDefinitions(doc map[string]any) error {
	defs, _ := doc["definitions"].(map[string]any)
	renamed := map[string]any{}
	for name, d := range defs {
		short := name[strings.LastIndex(name, ".")+1:]
		if _, dup := renamed[short]; dup {
			return fmt.Errorf("openapi: two schemas named %s", short)
		}
		renamed[short] = d
	}
	doc["definitions"] = renamed
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if s, ok := e.(string); ok && k == "$ref" && strings.HasPrefix(s, "#/definitions/") {
					name := strings.TrimPrefix(s, "#/definitions/")
					v[k] = "#/definitions/" + name[strings.LastIndex(name, ".")+1:]
					continue
				}
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(doc)
	return nil
}

// completeSchemas sets required and nullable on every component schema from
// its Go type.
func completeSchemas(doc *openapi3.T) error {
	types := dtoTypes()
	for name := range doc.Components.Schemas {
		if types[name] == nil {
			return fmt.Errorf("openapi: schema %s has no Go type: add %s{} to openAPITypes in api/openapi.go", name, name)
		}
	}
	inResponses := responseSchemas(doc)
	for name, t := range types {
		ref := doc.Components.Schemas[name]
		if ref == nil || ref.Value == nil {
			continue // a type no operation uses (any longer)
		}
		s := ref.Value
		requestOnly := !inResponses[name]
		s.Required = nil
		for _, f := range jsonFields(t) {
			prop := s.Properties[f.name]
			if prop == nil {
				return fmt.Errorf("openapi: %s.%s is not in the schema", name, f.name)
			}
			if requestOnly && f.requiredInRequest || !requestOnly && !f.omitempty {
				s.Required = append(s.Required, f.name)
			}
			if f.time && prop.Value != nil && prop.Value.Type.Is(openapi3.TypeString) {
				prop.Value.Format = "date-time"
			}
			if f.nullable {
				s.Properties[f.name] = nullable(prop)
			}
		}
	}
	return nil
}

// dtoTypes maps schema names to the DTO types of openAPITypes.
func dtoTypes() map[string]reflect.Type {
	types := map[string]reflect.Type{}
	for _, v := range openAPITypes {
		t := reflect.TypeOf(v)
		types[t.Name()] = t
	}
	return types
}

// refName is the schema name a reference points at.
func refName(ref string) string { return ref[strings.LastIndex(ref, "/")+1:] }

// annotatedSchema is the schema reference an annotation gave a response's
// JSON body, if any.
func annotatedSchema(r *openapi3.Response) *openapi3.SchemaRef {
	for _, mt := range r.Content {
		if mt.Schema != nil && mt.Schema.Ref != "" {
			return mt.Schema
		}
	}
	return nil
}

// extendsProblem reports whether t is a problem with extension members: a
// struct embedding Problem.
func extendsProblem(t reflect.Type) bool {
	if t == nil || t.Kind() != reflect.Struct {
		return false
	}
	for i := range t.NumField() {
		if f := t.Field(i); f.Anonymous && f.Type == reflect.TypeOf(Problem{}) {
			return true
		}
	}
	return false
}

// nullable returns the property schema allowing null. A reference cannot
// carry nullable beside it in OpenAPI 3.0, so it is wrapped in allOf,
// with the referenced schema's type beside nullable (which needs one).
func nullable(prop *openapi3.SchemaRef) *openapi3.SchemaRef {
	if prop.Ref != "" {
		typ := &openapi3.Types{openapi3.TypeObject}
		if prop.Value != nil && prop.Value.Type != nil {
			typ = prop.Value.Type
		}
		return openapi3.NewSchemaRef("", &openapi3.Schema{Type: typ, Nullable: true, AllOf: openapi3.SchemaRefs{prop}})
	}
	prop.Value.Nullable = true
	if prop.Value.Type == nil && len(prop.Value.AllOf) > 0 {
		// swag's own allOf wrapper of a described reference.
		prop.Value.Type = &openapi3.Types{openapi3.TypeObject}
		if v := prop.Value.AllOf[0].Value; v != nil && v.Type != nil {
			prop.Value.Type = v.Type
		}
	}
	return prop
}

// jsonField is one property of a DTO as encoding/json writes it.
type jsonField struct {
	name      string
	omitempty bool
	nullable  bool
	// requiredInRequest: the field's validate tag says "required", as swag
	// reads it: a request without it is refused.
	requiredInRequest bool
	// time: an RFC 3339 time.
	time bool
}

var (
	rawMessageType = reflect.TypeOf(json.RawMessage(nil))
	timeType       = reflect.TypeOf(time.Time{})
)

// jsonFields lists the JSON properties of struct type t, embedded structs
// flattened, as encoding/json encodes them.
func jsonFields(t reflect.Type) []jsonField {
	var out []jsonField
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() || f.Tag.Get("swaggerignore") == "true" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		omit := slices.Contains(strings.Split(opts, ","), "omitempty") || slices.Contains(strings.Split(opts, ","), "omitzero")
		k := f.Type.Kind()
		canBeNull := k == reflect.Pointer || k == reflect.Map || k == reflect.Interface || f.Type == rawMessageType
		out = append(out, jsonField{name: name, omitempty: omit, nullable: canBeNull && !omit,
			requiredInRequest: slices.Contains(strings.Split(f.Tag.Get("validate"), ","), "required"),
			time:              f.Type == timeType || f.Type == reflect.PointerTo(timeType)})
	}
	return out
}

// responseSchemas returns the component schemas a response body uses,
// directly or through other schemas.
func responseSchemas(doc *openapi3.T) map[string]bool {
	seen := map[string]bool{}
	var visit func(s *openapi3.SchemaRef)
	visit = func(s *openapi3.SchemaRef) {
		if s == nil {
			return
		}
		if s.Ref != "" {
			name := refName(s.Ref)
			if seen[name] {
				return
			}
			seen[name] = true
			visit(doc.Components.Schemas[name])
			return
		}
		if s.Value == nil {
			return
		}
		v := s.Value
		for _, p := range v.Properties {
			visit(p)
		}
		visit(v.Items)
		if v.AdditionalProperties.Schema != nil {
			visit(v.AdditionalProperties.Schema)
		}
		for _, group := range []openapi3.SchemaRefs{v.AllOf, v.AnyOf, v.OneOf} {
			for _, e := range group {
				visit(e)
			}
		}
	}
	visitContent := func(c openapi3.Content) {
		for _, mt := range c {
			visit(mt.Schema)
		}
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			for _, r := range op.Responses.Map() {
				if r.Value != nil {
					visitContent(r.Value.Content)
				}
			}
		}
	}
	return seen
}

// commonFailures are documented on every operation that lacks them.
var commonFailures = map[int]string{
	http.StatusBadRequest:          "Malformed request: an unknown, repeated or malformed query parameter or header",
	http.StatusUnauthorized:        "Not authenticated: no, an unknown, an expired or a revoked token",
	http.StatusTooManyRequests:     "Too many requests from this token: retry after Retry-After seconds",
	http.StatusInternalServerError: "Internal error",
	http.StatusServiceUnavailable:  "The database is unavailable or the request took too long: retry later",
}

// bodyFailures are documented on every operation that takes a body.
var bodyFailures = map[int]string{
	http.StatusRequestEntityTooLarge: "The body is larger than the server's limit",
	http.StatusUnsupportedMediaType:  "The body is not of a media type the operation takes",
}

// completeOperations applies the document-wide rules on responses and
// headers to every operation.
func completeOperations(doc *openapi3.T) {
	types := dtoTypes()
	problem := openapi3.NewSchemaRef("#/components/schemas/Problem", nil)
	problem.Value = doc.Components.Schemas["Problem"].Value
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			hasBody := op.RequestBody != nil
			for status, desc := range commonFailures {
				addResponse(op, status, desc)
			}
			if op.Parameters.GetByInAndName(openapi3.ParameterInQuery, "cursor") != nil {
				addResponse(op, http.StatusUnprocessableEntity, "The cursor is not one this list returned")
			}
			if hasPathParams(path) {
				addResponse(op, http.StatusNotFound, "No such resource, or it is outside your scope")
			}
			if hasBody {
				for status, desc := range bodyFailures {
					addResponse(op, status, desc)
				}
			}
			if unsafeMethod(method) {
				op.Parameters = append(op.Parameters, &openapi3.ParameterRef{Value: &openapi3.Parameter{
					Name: HeaderIdempotencyKey, In: openapi3.ParameterInHeader,
					Description: "Makes the request safe to retry: a repeat with the same key and body gets the first response again (kept at least 24 hours); the same key with another body is 422, a repeat while the first still runs is 409 (on SQLite it waits for the first and gets its response). A request whose server died holds its key no longer, so its retry runs at once.",
					Schema:      openapi3.NewSchemaRef("", &openapi3.Schema{Type: &openapi3.Types{openapi3.TypeString}, MinLength: 1, MaxLength: openapi3.Ptr(uint64(200)), Pattern: `^[\x21-\x7e]+$`}),
				}})
			}
			for code, r := range op.Responses.Map() {
				status, _ := strconv.Atoi(code)
				v := r.Value
				switch {
				case status >= 400 || code == "default":
					schema := problem
					if s := annotatedSchema(v); s != nil && extendsProblem(types[refName(s.Ref)]) {
						schema = s
					}
					v.Content = openapi3.Content{problemMediaType: &openapi3.MediaType{Schema: schema, Example: problemExample(status, path)}}
					if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
						setHeader(v, "Retry-After", "Seconds to wait before retrying", false, openapi3.TypeInteger)
					}
				case status >= 200 && status < 300:
					// An operation that answers JSON or a file (format=xlsx)
					// documents the file as bytes, not as the JSON schema.
					for mt, m := range v.Content {
						if !strings.Contains(mt, "json") && m.Schema != nil && m.Schema.Ref != "" {
							v.Content[mt] = &openapi3.MediaType{Schema: openapi3.NewSchemaRef("", &openapi3.Schema{
								Type: &openapi3.Types{openapi3.TypeString}, Format: "binary"})}
						}
					}
					if status == http.StatusCreated {
						setHeader(v, echo.HeaderLocation, "The URL of what was created", true, openapi3.TypeString)
					}
					if hasRevision(v) {
						setHeader(v, "ETag", `The resource's revision as a strong entity tag, e.g. "3"; send it back in If-Match`, false, openapi3.TypeString)
					}
					if unsafeMethod(method) {
						setHeader(v, HeaderReplayed, `"true" when this is the stored response to an earlier request with the same Idempotency-Key`, false, openapi3.TypeString)
					}
				}
			}
		}
	}
}

// hasPathParams reports whether a path template names a resource by a
// parameter, which may not exist.
func hasPathParams(path string) bool { return strings.Contains(path, "{") }

// addResponse documents status on op unless it already is.
func addResponse(op *openapi3.Operation, status int, desc string) {
	if op.Responses.Status(status) != nil {
		return
	}
	op.Responses.Set(strconv.Itoa(status), &openapi3.ResponseRef{Value: openapi3.NewResponse().WithDescription(desc)})
}

// setHeader documents a response header, keeping an annotation's wording.
func setHeader(r *openapi3.Response, name, desc string, required bool, typ string) {
	if r.Headers == nil {
		r.Headers = openapi3.Headers{}
	}
	if h := r.Headers[name]; h != nil && h.Value != nil && h.Value.Description != "" {
		desc = h.Value.Description
	}
	r.Headers[name] = &openapi3.HeaderRef{Value: &openapi3.Header{Parameter: openapi3.Parameter{
		Description: desc, Required: required,
		Schema: openapi3.NewSchemaRef("", &openapi3.Schema{Type: &openapi3.Types{typ}}),
	}}}
}

// hasRevision reports whether a success body is a revisioned resource,
// which the server sends with its ETag.
func hasRevision(r *openapi3.Response) bool {
	mt := r.Content.Get(echo.MIMEApplicationJSON)
	if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
		return false
	}
	p := mt.Schema.Value.Properties["revision"]
	return p != nil
}

// problemExample is a problem as the server sends it for status on an
// operation of path.
func problemExample(status int, path string) map[string]any {
	if status == 0 {
		status = http.StatusInternalServerError
	}
	code := statusCode(status)
	p := map[string]any{"type": "about:blank", "title": http.StatusText(status), "status": status,
		"instance": pathPrefix + strings.NewReplacer("{id}", "7", "{role_id}", "3", "{org_unit}", "B-SH").Replace(path), "request_id": "0QTbhbiHVfDYBMXLzu7Mo8rWtSrXC3Ee", "errors": []any{}}
	if code != "" {
		p["type"], p["code"] = "urn:cascade:problem:"+code, code
	}
	detail := map[int]string{
		http.StatusBadRequest:            "invalid query parameter limit: must be an integer from 1 to 1000",
		http.StatusUnauthorized:          "a valid bearer token is required",
		http.StatusForbidden:             "your roles do not allow this",
		http.StatusNotFound:              "not found, or outside your scope",
		http.StatusConflict:              "the resource is not in a state that allows this",
		http.StatusPreconditionFailed:    `changed since you read it: its ETag is now "4"`,
		http.StatusRequestEntityTooLarge: "the request body is larger than the limit of the server",
		http.StatusUnsupportedMediaType:  "the body must be application/json",
		http.StatusUnprocessableEntity:   "invalid input: name: is required",
		http.StatusPreconditionRequired:  "this write needs If-Match: send the ETag you read",
		http.StatusTooManyRequests:       "too many requests: retry after 1 second",
		http.StatusInternalServerError:   "internal error",
		http.StatusServiceUnavailable:    "the database is unreachable",
	}[status]
	if detail != "" {
		p["detail"] = detail
	}
	switch status {
	case http.StatusBadRequest:
		p["errors"] = []any{map[string]any{"field": "limit", "message": "must be an integer from 1 to 1000"}}
	case http.StatusUnprocessableEntity:
		p["errors"] = []any{map[string]any{"field": "name", "message": "is required"}}
	case http.StatusPreconditionRequired:
		p["errors"] = []any{map[string]any{"field": "If-Match", "message": "is required"}}
	}
	return p
}
