package api

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/cascade-planning/cascade/planning"
)

// These fuzz targets cover every decoder a request goes through before a
// service sees it: the strict JSON decoder with each request body type, the
// If-Match header, period filters, query strings and multipart uploads. CI
// runs each for a bounded time:
//
//	go test -run '^$' -fuzz '^FuzzDecodeJSON$' -fuzztime 20s ./api

// requestBodies are the types handlers decode request bodies into. Adding a
// handler that decodes another type fails TestFuzzCoversEveryRequestBody
// until the type is listed here.
var requestBodies = []func() any{
	func() any { return new(OrgUnitCreate) },
	func() any { return new(WebhookEndpointCreate) },
	func() any { return new(WebhookEndpointPatch) },
	func() any { return new(WebhookSecretRotate) },
	func() any { return new(WebhookReplay) },
	func() any { return new(ScorecardPut) },
	func() any { return new(ScoreIssueRequest) },
	func() any { return new(LetterBatchRequest) },
	func() any { return new(OrgUnitPatch) },
	func() any { return new(ProductLineCreate) },
	func() any { return new(ProductLinePatch) },
	func() any { return new(MeasureCreate) },
	func() any { return new(MeasurePatch) },
	func() any { return new(SeasonalityProfileCreate) },
	func() any { return new(SeasonalityProfilePatch) },
	func() any { return new(UserCreate) },
	func() any { return new(UserPatch) },
	func() any { return new(RoleAssignmentCreate) },
	func() any { return new(TokenCreate) },
	func() any { return new(SessionCreate) },
	func() any { return new(PasswordLinkCreate) },
	func() any { return new(PasswordSet) },
	func() any { return new(RoundCreate) },
	func() any { return new(RoundPatch) },
	func() any { return new(TransitionRequest) },
	func() any { return new(VersionCreate) },
	func() any { return new(CellBatch) },
	func() any { return new(AllocationRequest) },
	func() any { return new(CounterproposalCreate) },
	func() any { return new(CounterproposalPatch) },
	func() any { return new(DecisionRequest) },
	func() any { return new(CommentBody) },
	func() any { return new(ApprovalActionRequest) },
}

// fuzzBodyLimit keeps the fuzzer's bodies small enough to reach the limit.
const fuzzBodyLimit = 1 << 12

func FuzzDecodeJSON(f *testing.F) {
	seeds := []string{
		`{"code":"B-SH-GOV","name":"Shanghai government","name_local":"上海","kind":"department","parent_id":4}`,
		`{"name":"X","parent_id":null,"active":false}`,
		`{"code":"KIOSK","name":"Kiosks","group":"industry","owner_id":3}`,
		`{"owner_id":null}`, `{"owner_id":7}`,
		`{"code":"m","name":"M","unit":"CNY","scale":2}`,
		`{"code":"retail","name":"Retail","weights":["1","1","1","1","1","1","1","1","1","1","1.5","2"]}`,
		`{"username":"bm-x","name":"王","email":"x@example.com"}`,
		`{"role":"branch_manager","org_unit_id":4}`,
		`{"user_id":12,"name":"laptop","expires_at":"2027-01-31T00:00:00+08:00"}`,
		`{"code":"FY2027","name":"Plan","fiscal_year":2027,"first_month":4,"measures":["revenue"],` +
			`"calendar":[{"phase":"counterproposals","due":"2026-12-15T18:00:00.123456789Z"}],"approval_chain":[{"role":"president","action":"approve"}]}`,
		`{"to":"open","comment":"go"}`, `{"from_version_id":1,"label":"v2","purpose":"p"}`,
		`{"cells":[{"org_unit":"B-SH-KA","product_line":"POS","measure":"revenue","period":"2027-04","amount":"125000.00"}]}`,
		`{"measure":"revenue","root":"CO","targets":[{"product_line":"POS","amount":"1.00"}],"levels":[{"method":"proportional",` +
			`"reference_version_id":1,"weights":[{"org_unit":"R-EAST","value":"4"}],"manual":[],"buffer":"0.10","zero_weights":"even"}],` +
			`"depth":2,"phasing":{"method":"profile","profile":"retail","reference_version_id":null},"locks":["B-SH"],"dry_run":true,"include_nodes":true}`,
		`{"org_unit":"B-SH","title":"t","lines":[{"product_line":"POS","measure":"revenue","period":"year","proposed":"1.00","reason":"r"}]}`,
		`{"title":null,"lines":[]}`,
		`{"decisions":[{"line_id":15,"decision":"modify","amount":"70000.00","comment":"c","apply":"rebalance"}]}`,
		`{"body":"Can we talk about Q4?"}`, `{"action":"approve","comment":"ok"}`,
		// Hostile shapes.
		``, ` `, `null`, `[]`, `"x"`, `1`, `{`, `{"name":`, `{"name":"a","name":"b"}`, `{"NAME":"a"}`, `{"nam\u0065":"a"}`,
		`{"\u212aind":"x"}`, `{"name":"a\u0000b"}`, `{"name":"\ud800"}`, `{"scale":1e400}`, `{"scale":NaN}`, `{"scale":-0}`,
		`{"parent_id":99999999999999999999}`, `{"owner_id":1.5}`, `{"cells":{}}`, `{"cells":[[]]}`, `{"a":1} {"b":2}`,
		`{"name":"a"}x`, strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat(`}`, 40), `{"name":"` + strings.Repeat("x", fuzzBodyLimit) + `"}`,
		"{\"name\":\"\xff\"}", "\xef\xbb\xbf{}", `{"expires_at":"2027-13-01T00:00:00Z"}`, `{"calendar":[{"due":"10000-01-01T00:00:00Z"}]}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s), "application/json")
	}
	for _, ct := range []string{"", "application/problem+json", "application/json; charset=utf-8", "text/plain", "application/x-www-form-urlencoded", "application/json;;", "multipart/form-data; boundary=x"} {
		f.Add([]byte(`{"name":"x"}`), ct)
	}
	e := echo.New()
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		for _, mk := range requestBodies {
			dst := mk()
			req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
			if contentType != "" {
				req.Header.Set(echo.HeaderContentType, contentType)
			}
			rec := httptest.NewRecorder()
			req.Body = http.MaxBytesReader(rec, req.Body, fuzzBodyLimit)
			err := decodeJSON(e.NewContext(req, rec), dst)
			name := reflect.TypeOf(dst).Elem().Name()
			if err != nil {
				if p, internal := problemFor(err); internal || (p.Status != 400 && p.Status != 413 && p.Status != 415 && p.Status != 422) {
					t.Fatalf("%s: %q refused with %d (%v)", name, body, p.Status, err)
				}
				continue
			}
			trimmed := bytes.TrimSpace(body)
			if !utf8.Valid(body) || !json.Valid(body) || len(trimmed) == 0 || trimmed[0] != '{' || len(body) > fuzzBodyLimit {
				t.Fatalf("%s: accepted %q", name, body)
			}
			// What was accepted encodes again (so a response echoing it
			// cannot fail), holds no NUL, and decodes to the same value.
			enc, err := json.Marshal(dst)
			if err != nil {
				t.Fatalf("%s: %q decoded to a value that does not encode: %v", name, body, err)
			}
			if bytes.Contains(enc, []byte(`\u0000`)) {
				t.Fatalf("%s: %q decoded to a string holding NUL", name, body)
			}
			again := mk()
			if err := unmarshalStrict(enc, again); err != nil {
				t.Fatalf("%s: its own encoding %s is refused: %v", name, enc, err)
			}
			if enc2, _ := json.Marshal(again); !bytes.Equal(enc, enc2) {
				t.Fatalf("%s: %s decodes and encodes to %s", name, enc, enc2)
			}
		}
	})
}

// TestFuzzCoversEveryRequestBody finds every type a handler decodes a body
// into and checks that FuzzDecodeJSON fuzzes it.
func TestFuzzCoversEveryRequestBody(t *testing.T) {
	fuzzed := map[string]bool{}
	for _, mk := range requestBodies {
		fuzzed[reflect.TypeOf(mk()).Elem().Name()] = true
	}
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var decoded []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, e.Name(), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			types := map[string]string{} // variable → its declared type
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.ValueSpec:
					if id, ok := n.Type.(*ast.Ident); ok {
						for _, name := range n.Names {
							types[name.Name] = id.Name
						}
					}
				case *ast.CallExpr:
					if id, ok := n.Fun.(*ast.Ident); !ok || id.Name != "decodeJSON" || len(n.Args) != 2 {
						return true
					}
					u, ok := n.Args[1].(*ast.UnaryExpr)
					if !ok {
						t.Errorf("%s: decodeJSON into %T: list the type in requestBodies by hand", fset.Position(n.Pos()), n.Args[1])
						return true
					}
					v, _ := u.X.(*ast.Ident)
					if v == nil || types[v.Name] == "" {
						t.Errorf("%s: decodeJSON into a variable of unknown type", fset.Position(n.Pos()))
						return true
					}
					decoded = append(decoded, types[v.Name])
				}
				return true
			})
		}
	}
	if len(decoded) < 10 {
		t.Fatalf("found only %d decodeJSON calls: %v", len(decoded), decoded)
	}
	for _, name := range decoded {
		if !fuzzed[name] {
			t.Errorf("handlers decode %s, which FuzzDecodeJSON does not fuzz: add it to requestBodies", name)
		}
	}
	for name := range fuzzed {
		if !slices.Contains(decoded, name) {
			t.Errorf("requestBodies lists %s, which no handler decodes", name)
		}
	}
}

func FuzzIfMatch(f *testing.F) {
	for _, s := range [][2]string{{"", ""}, {"*", ""}, {`"3"`, ""}, {`"0"`, ""}, {`W/"3"`, ""}, {`3`, ""}, {`"03"`, ""}, {`"-1"`, ""},
		{`"3", "4"`, ""}, {`"3"`, `"4"`}, {`"abc"`, ""}, {`""`, ""}, {` "7" `, ""}, {`"9223372036854775807"`, ""},
		{`"9223372036854775808"`, ""}, {`"+3"`, ""}, {`*`, `"1"`}, {"\"\x00\"", ""}, {`"1e3"`, ""}, {`"٣"`, ""}} {
		f.Add(s[0], s[1])
	}
	e := echo.New()
	f.Fuzz(func(t *testing.T, h1, h2 string) {
		req := httptest.NewRequest(http.MethodPatch, "/", nil)
		var vs []string
		if h1 != "" || h2 != "" {
			vs = []string{h1}
			if h2 != "" {
				vs = append(vs, h2)
			}
			req.Header["If-Match"] = vs
		}
		c := e.NewContext(req, httptest.NewRecorder())
		rev, err := ifMatch(c)
		joined := strings.TrimSpace(strings.Join(vs, ","))
		switch {
		case err != nil:
			code := planning.ErrorCode(err)
			if rev != nil || (code != EBADREQUEST && code != planning.EPRECONDITION) {
				t.Fatalf("If-Match %q: %v, %v", vs, rev, err)
			}
			if code == planning.EPRECONDITION && !strings.HasPrefix(joined, "W/") {
				t.Fatalf("If-Match %q: 412 for a strong tag", vs)
			}
		case rev == nil:
			if vs != nil && joined != "*" {
				t.Fatalf("If-Match %q: no expectation", vs)
			}
		default:
			if *rev < 0 || etag(*rev) != joined {
				t.Fatalf("If-Match %q: revision %d", vs, *rev)
			}
		}
		// A write that requires If-Match refuses its absence with 428 and
		// otherwise reads the header exactly as ifMatch does.
		rrev, rerr := requireIfMatch(c)
		if vs == nil {
			if planning.ErrorCode(rerr) != EPRECONDREQ || rrev != nil {
				t.Fatalf("no If-Match: %v, %v", rrev, rerr)
			}
		} else if planning.ErrorCode(rerr) != planning.ErrorCode(err) || (rrev == nil) != (rev == nil) || (rev != nil && *rrev != *rev) {
			t.Fatalf("If-Match %q: requireIfMatch %v, %v; ifMatch %v, %v", vs, rrev, rerr, rev, err)
		}
	})
}

func FuzzParsePeriods(f *testing.F) {
	for _, s := range []string{"", "2027-04", "2028-03", "2027-03", "2027-04..2027-09", "2027-09..2027-04", "Q1", "Q4", "Q0", "Q5", "q1",
		"Q1..Q2", "2027-04..", "..2027-04", "2027-04...2027-05", "2027-04..2027-05..2027-06", "2027-13", "-2027-04", " 2027-04", "2027-4"} {
		f.Add(2027, 4, s)
	}
	f.Add(1900, 1, "1900-01..1900-12")
	f.Add(2999, 12, "3000-11")
	f.Fuzz(func(t *testing.T, year, first int, s string) {
		r := &planning.Round{FiscalYear: 1900 + int(uint(year)%1100), FirstMonth: 1 + int(uint(first)%12)}
		from, to, err := parsePeriods(r, s)
		if err != nil {
			return
		}
		if s == "" {
			if from != 0 || to != 0 {
				t.Fatalf("no filter gave %d..%d", from, to)
			}
			return
		}
		if from < 1 || to > 12 || from > to {
			t.Fatalf("round %d/%d: %q gave %d..%d", r.FiscalYear, r.FirstMonth, s, from, to)
		}
		if len(s) == 2 && s[0] == 'Q' {
			if q := int(s[1] - '0'); from != 3*q-2 || to != 3*q {
				t.Fatalf("%q gave %d..%d", s, from, to)
			}
			return
		}
		a, b, isRange := strings.Cut(s, "..")
		if !isRange {
			b = a
		}
		if r.MonthLabel(from) != a || r.MonthLabel(to) != b {
			t.Fatalf("round %d/%d: %q gave %d..%d (%s..%s)", r.FiscalYear, r.FirstMonth, s, from, to, r.MonthLabel(from), r.MonthLabel(to))
		}
		// Every range of the round's months reads back.
		for p := 1; p <= 12; p++ {
			label := r.MonthLabel(from) + ".." + r.MonthLabel(p)
			gf, gt, gerr := parsePeriods(r, label)
			if p < from && gerr == nil || p >= from && (gerr != nil || gf != from || gt != p) {
				t.Fatalf("round %d/%d: %q gave %d..%d, %v", r.FiscalYear, r.FirstMonth, label, gf, gt, gerr)
			}
		}
	})
}

func FuzzQuery(f *testing.F) {
	for _, s := range []string{"", "limit=10", "limit=0", "limit=-1", "limit=1001", "limit=99999999999999999999", "cursor=MQ", "cursor=!!!",
		"cursor=AA", "cursor=__4", "code=B-SH", "code=%00", "code=%ff", "kind=branch&kind=region", "kinds=branch", "active=true", "active=yes",
		"from=2027-01-31T08:00:00Z", "from=2027-13-01T00:00:00Z", "parent_id=4", "parent_id=-4", "parent_id=0x10", "a=1;b=2", "%zz=1", "code",
		"code=&limit="} {
		f.Add(s)
	}
	e := echo.New()
	f.Fuzz(func(t *testing.T, raw string) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.URL.RawQuery = raw
		c := e.NewContext(req, httptest.NewRecorder())
		q := newQuery(c, "code", "kind", "active", "from", "parent_id")
		page := q.page()
		code, id, active, from := q.str("code"), q.id("parent_id"), q.boolean("active"), q.time("from")
		if err := q.err(); err != nil {
			if planning.ErrorCode(err) != EBADREQUEST {
				t.Fatalf("%q: %v", raw, err)
			}
			return
		}
		if page.Limit < 0 || page.Limit > planning.MaxPageSize {
			t.Fatalf("%q: limit %d", raw, page.Limit)
		}
		if _, err := planning.DecodeCursor(page.Cursor); err != nil {
			t.Fatalf("%q: cursor %q accepted", raw, page.Cursor)
		}
		if id != nil && *id <= 0 {
			t.Fatalf("%q: id %d", raw, *id)
		}
		_, _ = active, from
		for name, vs := range c.QueryParams() {
			if !slices.Contains([]string{"code", "kind", "active", "from", "parent_id", "limit", "cursor"}, name) || len(vs) > 1 {
				t.Fatalf("%q: parameter %q accepted", raw, name)
			}
			if len(vs) == 1 && !plainText(vs[0]) {
				t.Fatalf("%q: value %q accepted", raw, vs[0])
			}
		}
		if !plainText(code) {
			t.Fatalf("%q: code %q", raw, code)
		}
	})
}

func FuzzReadUpload(f *testing.F) {
	build := func(parts ...[3]string) []byte { // name, file name, content
		var b bytes.Buffer
		w := multipart.NewWriter(&b)
		_ = w.SetBoundary("b0undary")
		for _, p := range parts {
			var pw interface{ Write([]byte) (int, error) }
			if p[1] != "" {
				pw, _ = w.CreateFormFile(p[0], p[1])
			} else {
				pw, _ = w.CreateFormField(p[0])
			}
			_, _ = pw.Write([]byte(p[2]))
		}
		_ = w.Close()
		return b.Bytes()
	}
	csv := "org_unit,product_line,measure,month,amount\nB-SH-KA,POS,revenue,2027-06,1.00\n"
	for _, body := range [][]byte{
		build([3]string{"file", "actuals.csv", csv}),
		build([3]string{"file", "actuals.csv", csv}, [3]string{"dry_run", "", "true"}, [3]string{"round", "", "FY2027"}),
		build([3]string{"file", "a.csv", csv}, [3]string{"file", "b.csv", csv}),
		build([3]string{"dry_run", "", "true"}),
		build([3]string{"other", "", "x"}),
		build([3]string{"file", "a.csv", csv}, [3]string{"round", "", strings.Repeat("r", maxFieldBytes+1)}),
		build([3]string{"file", "a.csv", csv}, [3]string{"dry_run", "", "1"}, [3]string{"dry_run", "", "0"}),
		build([3]string{"file", "a.csv", strings.Repeat("x", fuzzBodyLimit)}),
		[]byte("--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename*=UTF-8''a%00b.csv\r\n\r\nx\r\n--b0undary--\r\n"),
		[]byte("--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\xffb.csv\"\r\n\r\nx\r\n--b0undary--\r\n"),
		[]byte("--b0undary\r\n\r\n--b0undary--"), []byte(""), []byte("--b0undary--"),
	} {
		f.Add(body, "b0undary")
	}
	f.Add([]byte("x"), "")
	e := echo.New()
	allowed := []string{"dry_run", "round"}
	f.Fuzz(func(t *testing.T, body []byte, boundary string) {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set(echo.HeaderContentType, "multipart/form-data; boundary="+boundary)
		rec := httptest.NewRecorder()
		req.Body = http.MaxBytesReader(rec, req.Body, fuzzBodyLimit)
		up, err := readUpload(e.NewContext(req, rec), allowed...)
		if err != nil {
			if p, internal := problemFor(err); internal || (p.Status != 400 && p.Status != 413 && p.Status != 415 && p.Status != 422) {
				t.Fatalf("%q: refused with %d (%v)", body, p.Status, err)
			}
			return
		}
		if !plainText(up.name) {
			t.Fatalf("%q: file name %q accepted", body, up.name)
		}
		for name, v := range up.fields {
			if !slices.Contains(allowed, name) || len(v) > maxFieldBytes {
				t.Fatalf("%q: field %q = %q accepted", body, name, v)
			}
		}
	})
}

func FuzzParseID(f *testing.F) {
	for _, s := range []string{"1", "42", "0", "-1", "+5", "007", "9223372036854775807", "9223372036854775808", "1e3", " 1", "0x10", "..", "%2e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := parseID("id", s)
		if err != nil {
			if planning.ErrorCode(err) != EBADREQUEST {
				t.Fatalf("parseID(%q): %v", s, err)
			}
			return
		}
		if id <= 0 {
			t.Fatalf("parseID(%q) = %d", s, id)
		}
		if again, err := parseID("id", strconv.FormatInt(id, 10)); err != nil || again != id {
			t.Fatalf("parseID does not read back %d: %d %v", id, again, err)
		}
	})
}
