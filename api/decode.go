package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/cascade-planning/cascade/planning"
)

// DefaultBodyLimit is the largest request body the server reads unless
// Config.BodyLimit says otherwise: 1 MiB. Larger bodies get 413.
const DefaultBodyLimit int64 = 1 << 20

// DefaultBulkBodyLimit is the largest body of a bulk write (a batch of up to
// planning.MaxBatchCells target cells) unless Config.BulkBodyLimit says
// otherwise.
const DefaultBulkBodyLimit int64 = 16 << 20

// bulkRoutes are the routes whose bodies may reach the bulk limit.
var bulkRoutes = map[string]bool{
	http.MethodPut + " " + pathPrefix + "/versions/:id/targets": true,
	// File uploads: actuals and edited target workbooks.
	http.MethodPost + " " + pathPrefix + "/actuals/imports":      true,
	http.MethodPost + " " + pathPrefix + "/versions/:id/imports": true,
}

// maxJSONDepth is the deepest nesting of objects and arrays a request body
// may have. No request type nests nearly this deep; the limit keeps hostile
// input from costing stack and time.
const maxJSONDepth = 32

// decodeJSON reads the request body strictly into dst:
//
//   - a Content-Type, when present, must be JSON (415 otherwise);
//   - a body over the limit is 413, an empty one 400;
//   - malformed JSON, invalid UTF-8 outside strings, a value other than an object, trailing
//     data after it, duplicate keys, keys that are not lower-case
//     snake_case and strings holding NUL are 400;
//   - unknown fields are 400 naming the field, and so are values of the wrong
//     JSON type;
//   - every string the request type holds, however deeply, is free text
//     under planning.CheckText (checkStrings): control characters, bidi
//     overrides and invalid Unicode are 422 naming the field. So are \u
//     escapes of lone UTF-16 surrogates, which encoding/json would silently
//     turn into U+FFFD.
//
// Rules about the values themselves (a malformed decimal, a missing name) are
// checked afterwards by the caller and the domain, and are 422.
func decodeJSON(c echo.Context, dst any) error {
	req := c.Request()
	if ct := req.Header.Get(echo.HeaderContentType); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !(mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")) {
			return echo.NewHTTPError(http.StatusUnsupportedMediaType, "the request body must be application/json")
		}
	}
	if req.Body == nil {
		return &planning.Error{Code: EBADREQUEST, Message: "a JSON request body is required"}
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return bodyReadError(err)
	}
	return unmarshalStrict(body, dst)
}

// bodyReadError turns a failure to read a request body into a 413 when the
// body crossed the limit and a 400 otherwise.
func bodyReadError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return planning.Errorf(planning.ETOOLARGE, "the request body is larger than the limit of %d bytes", mbe.Limit)
	}
	return planning.Errorf(EBADREQUEST, "reading the request body failed")
}

// unmarshalStrict decodes one JSON value from body into dst with the checks
// decodeJSON documents.
func unmarshalStrict(body []byte, dst any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return &planning.Error{Code: EBADREQUEST, Message: "a JSON request body is required"}
	}
	if err := checkJSONTokens(body); err != nil {
		return err
	}
	if !utf8.Valid(body) {
		// Invalid UTF-8 inside a string is a 422 naming the field (see
		// checkJSONTokens); anywhere else the body is not JSON text.
		return &planning.Error{Code: EBADREQUEST, Message: "the request body is not valid UTF-8"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	var v planning.Validation
	checkStrings(&v, reflect.ValueOf(dst), "", false)
	return v.Err()
}

// multilineFields are the JSON names of the fields that hold multi-line
// text, where tabs and line breaks are fine. A field can also say so with
// the struct tag text:"multiline".
var multilineFields = map[string]bool{"comment": true, "reason": true, "body": true, "description": true}

// checkStrings walks a decoded request value and checks every string in
// it, at any depth (fields, pointers, slices, maps), with
// planning.CheckText, naming each offending field by its JSON path. It
// works on the types themselves, so a field added to a request type is
// checked without anybody remembering to.
func checkStrings(v *planning.Validation, rv reflect.Value, path string, multiline bool) {
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !rv.IsNil() {
			checkStrings(v, rv.Elem(), path, multiline)
		}
	case reflect.String:
		if msg := planning.CheckText(rv.String(), multiline); msg != "" {
			v.Add(orBody(path), "%s", msg)
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < rv.Len(); i++ {
			checkStrings(v, rv.Index(i), fmt.Sprintf("%s[%d]", path, i), multiline)
		}
	case reflect.Map:
		iter := rv.MapRange()
		for iter.Next() {
			k := fmt.Sprint(iter.Key().Interface())
			if iter.Key().Kind() == reflect.String {
				if msg := planning.CheckText(k, false); msg != "" {
					v.Add(joinPath(path, "(key)"), "%s", msg)
					continue
				}
			}
			checkStrings(v, iter.Value(), joinPath(path, k), multiline)
		}
	case reflect.Struct:
		t := rv.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if f.Anonymous && name == "" {
				checkStrings(v, rv.Field(i), path, multiline)
				continue
			}
			if name == "" {
				name = f.Name
			}
			checkStrings(v, rv.Field(i), joinPath(path, name), multilineFields[name] || f.Tag.Get("text") == "multiline")
		}
	}
}

func orBody(path string) string {
	if path == "" {
		return "body"
	}
	return path
}

// badSurrogate reports whether raw, the bytes of one JSON token, holds a
// \u escape of a UTF-16 surrogate that is not part of a valid pair: a high
// surrogate (D800–DBFF) not followed by a low one (DC00–DFFF), or a low
// one on its own.
func badSurrogate(raw []byte) bool {
	hex4 := func(i int) (rune, bool) {
		if i+6 > len(raw) || raw[i] != '\\' || raw[i+1] != 'u' {
			return 0, false
		}
		n, err := strconv.ParseUint(string(raw[i+2:i+6]), 16, 32)
		return rune(n), err == nil
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		r, ok := hex4(i)
		if !ok {
			i++ // a two-character escape such as \\ or \"
			continue
		}
		switch {
		case r >= 0xd800 && r <= 0xdbff:
			lo, ok := hex4(i + 6)
			if !ok || lo < 0xdc00 || lo > 0xdfff {
				return true
			}
			i += 11
		case r >= 0xdc00 && r <= 0xdfff:
			return true
		default:
			i += 5
		}
	}
	return false
}

// decodeError turns an encoding/json error into a 400 that names the field.
func decodeError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			return badRequest("body", "must be a JSON "+jsonTypeName(te.Type))
		}
		return badRequest(field, "must be a JSON "+jsonTypeName(te.Type))
	case errors.As(err, &se):
		return planning.Errorf(EBADREQUEST, "malformed JSON at byte %d", se.Offset)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name, uerr := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		if uerr != nil {
			name = "?"
		}
		return badRequest(name, "is not a known field")
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return planning.Errorf(EBADREQUEST, "malformed JSON: unexpected end of input")
	}
	var fe *planning.Error
	if errors.As(err, &fe) {
		return fe
	}
	return planning.Errorf(EBADREQUEST, "malformed JSON")
}

// jsonTypeName names the JSON type a Go type is decoded from.
func jsonTypeName(t reflect.Type) string {
	if t == nil {
		return "value of another type"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeFor[optionalID]() {
		return "integer or null"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Struct, reflect.Map:
		if t.String() == "time.Time" {
			return "string with an RFC 3339 timestamp"
		}
		return "object"
	}
	return "value of another type"
}

// jsonFrame is one open object or array while checkJSONTokens walks a body.
type jsonFrame struct {
	object  bool
	path    string
	keys    map[string]bool
	key     string // the key whose value comes next (objects)
	wantKey bool   // the next token is a key (objects)
	index   int    // the index of the next element (arrays)
}

// checkJSONTokens walks the body token by token and rejects what
// encoding/json would silently accept: duplicate keys (the last one would
// win), keys that are not lower-case snake_case (encoding/json matches field
// names case-insensitively, even across Unicode case folding), nesting deeper
// than maxJSONDepth, strings holding NUL ("\u0000", which neither database
// stores), and anything after the first value.
func checkJSONTokens(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var stack []*jsonFrame
	started := false
	for {
		from := dec.InputOffset()
		tok, err := dec.Token()
		if err == io.EOF {
			if len(stack) == 0 && started {
				return nil
			}
			return planning.Errorf(EBADREQUEST, "malformed JSON: unexpected end of input")
		}
		if err != nil {
			var se *json.SyntaxError
			if errors.As(err, &se) {
				return planning.Errorf(EBADREQUEST, "malformed JSON at byte %d: %s", se.Offset, se.Error())
			}
			return planning.Errorf(EBADREQUEST, "malformed JSON: %s", err.Error())
		}
		if len(stack) == 0 && started {
			return planning.Errorf(EBADREQUEST, "malformed JSON: unexpected data after the JSON value")
		}
		if d, ok := tok.(json.Delim); !started && (!ok || d != '{') {
			return planning.Errorf(EBADREQUEST, "the request body must be a JSON object")
		}
		started = true
		var top *jsonFrame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.wantKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				valueDone(stack)
				continue
			}
			key, _ := tok.(string)
			path := joinPath(top.path, key)
			if !isSnakeCase(key) {
				return badRequest(path, "is not a known field (field names are lower-case snake_case)")
			}
			if top.keys[key] {
				return badRequest(path, "appears more than once")
			}
			top.keys[key] = true
			top.key, top.wantKey = key, false
			continue
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				if len(stack) >= maxJSONDepth {
					return planning.Errorf(EBADREQUEST, "malformed JSON: nested deeper than %d levels", maxJSONDepth)
				}
				f := &jsonFrame{object: d == '{', path: valuePath(top), wantKey: d == '{'}
				if f.object {
					f.keys = map[string]bool{}
				}
				stack = append(stack, f)
			case ']':
				stack = stack[:len(stack)-1]
				valueDone(stack)
			}
			continue
		}
		if str, ok := tok.(string); ok && strings.IndexByte(str, 0) >= 0 {
			// No text the API keeps may hold NUL, and the database cannot.
			return badRequest(valuePath(top), "must not contain the NUL character (\\u0000)")
		} else if ok && strings.ContainsRune(str, utf8.RuneError) {
			// encoding/json turns invalid UTF-8 and lone surrogates into
			// U+FFFD without a word: look at the raw token instead.
			raw := body[from:dec.InputOffset()]
			if !utf8.Valid(raw) {
				return invalid(orBody(valuePath(top)), "must be valid UTF-8")
			}
			if badSurrogate(raw) {
				return invalid(orBody(valuePath(top)), "must be valid Unicode: \\u escapes of UTF-16 surrogates must come in pairs")
			}
		}
		valueDone(stack)
	}
}

// valueDone records that a complete value was read inside the innermost frame.
func valueDone(stack []*jsonFrame) {
	if len(stack) == 0 {
		return
	}
	top := stack[len(stack)-1]
	if top.object {
		top.wantKey = true
	} else {
		top.index++
	}
}

// valuePath is the path of the value about to be read inside top.
func valuePath(top *jsonFrame) string {
	switch {
	case top == nil:
		return ""
	case top.object:
		return joinPath(top.path, top.key)
	default:
		return fmt.Sprintf("%s[%d]", top.path, top.index)
	}
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// isSnakeCase reports whether key is a lower-case ASCII snake_case name.
func isSnakeCase(key string) bool {
	if key == "" || len(key) > 64 || key[0] < 'a' || key[0] > 'z' {
		return false
	}
	for i := 1; i < len(key); i++ {
		c := key[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// optionalID is a nullable id in a PATCH body, where "absent" (leave as it
// is) and null (clear it) mean different things.
type optionalID struct {
	Set   bool
	Value *int64
}

// UnmarshalJSON implements json.Unmarshaler.
func (o *optionalID) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Value = nil
		return nil
	}
	var v int64
	if err := json.Unmarshal(b, &v); err != nil {
		return &json.UnmarshalTypeError{Value: "value", Type: reflect.TypeFor[optionalID]()}
	}
	o.Value = &v
	return nil
}

// MarshalJSON implements json.Marshaler, for symmetry in tests and clients.
func (o optionalID) MarshalJSON() ([]byte, error) {
	if o.Value == nil {
		return []byte("null"), nil
	}
	return json.Marshal(*o.Value)
}

// writeJSON writes v as JSON followed by a newline.
func writeJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
