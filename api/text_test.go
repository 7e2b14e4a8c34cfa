package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cascade-planning/cascade/planning"
)

// textLeaf is one string a request type can carry: its JSON path and
// whether it is multi-line text.
type textLeaf struct {
	path      string
	multiline bool
}

// sampleBody builds a JSON value of type t in which every string is a
// placeholder that names its place, so a test can swap any one string for
// a hostile one; leaves collects the strings' paths. Slices get one
// element and maps one key, so every field at every depth is present.
func sampleBody(t reflect.Type, path string, multiline bool, leaves *[]textLeaf) any {
	switch {
	case t == reflect.TypeFor[time.Time]():
		return "2027-01-01T00:00:00Z"
	case t == reflect.TypeFor[optionalID]():
		return 1
	}
	switch t.Kind() {
	case reflect.Pointer:
		return sampleBody(t.Elem(), path, multiline, leaves)
	case reflect.String:
		*leaves = append(*leaves, textLeaf{path, multiline})
		return "@" + path + "@"
	case reflect.Bool:
		return true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64:
		return 1
	case reflect.Float32, reflect.Float64:
		return 1.5
	case reflect.Slice, reflect.Array:
		return []any{sampleBody(t.Elem(), path+"[0]", multiline, leaves)}
	case reflect.Map:
		return map[string]any{"1": sampleBody(t.Elem(), joinPath(path, "1"), multiline, leaves)}
	case reflect.Struct:
		out := map[string]any{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "-" || name == "" {
				continue
			}
			out[name] = sampleBody(f.Type, joinPath(path, name), multilineFields[name] || f.Tag.Get("text") == "multiline", leaves)
		}
		return out
	}
	return nil
}

// TestFreeTextRuleCoversEveryRequestField is the free-text rule as a
// class: for every request type a handler decodes (requestBodies, which
// TestFuzzCoversEveryRequestBody keeps complete) and every string it can
// carry at any depth, a hostile string there is refused at decode time with
// 422 naming exactly that field, and a harmless one is not. A new field on
// any request type is covered without anybody remembering to.
func TestFreeTextRuleCoversEveryRequestField(t *testing.T) {
	hostile := []struct {
		name, raw   string // raw: the JSON string literal's contents
		okMultiline bool
	}{
		{"C0 control", `a\u0007b`, false},
		{"escape sequence", `a\u001b[31mb`, false},
		{"DEL", `a\u007fb`, false},
		{"C1 control (NEL)", `a\u0085b`, false},
		{"C1 control, raw UTF-8", "a\u009bb", false},
		{"right-to-left override", `invoice\u202egpj.exe`, false},
		{"left-to-right embedding", "a\u202ab", false},
		{"first strong isolate", `a\u2068b`, false},
		{"pop directional isolate", "a\u2069b", false},
		{"lone high surrogate", `a\ud800b`, false},
		{"lone low surrogate", `a\udc00b`, false},
		{"reversed pair", `\udc00\ud800`, false},
		{"high surrogate at the end", `ab\ud83d`, false},
		{"invalid UTF-8", "a\xff\xfeb", false},
		{"carriage return alone", `a\rb`, false},
		{"line feed", `a\nb`, true},
		{"tab", `a\tb`, true},
		{"CR LF", `a\r\nb`, true},
	}
	harmless := []string{`Shanghai`, `上海分行`, `😀 \ud83d\ude00`, `a\\ud800b`, `don't \"quote\" me`, `שלום`, `مرحبا`, "\u200f"}
	for _, mk := range requestBodies {
		dst := mk()
		typ := reflect.TypeOf(dst).Elem()
		var leaves []textLeaf
		sample := sampleBody(typ, "", false, &leaves)
		base, err := json.Marshal(sample)
		if err != nil {
			t.Fatal(err)
		}
		if err := unmarshalStrict(base, mk()); err != nil {
			t.Fatalf("%s: the sample body %s does not decode: %v", typ.Name(), base, err)
		}
		for _, leaf := range leaves {
			placeholder := []byte(`"@` + leaf.path + `@"`)
			for _, h := range hostile {
				body := bytes.Replace(base, placeholder, []byte(`"`+h.raw+`"`), 1)
				err := unmarshalStrict(body, mk())
				if h.okMultiline && leaf.multiline {
					if err != nil {
						t.Errorf("%s.%s: %s refused in multi-line text: %v", typ.Name(), leaf.path, h.name, err)
					}
					continue
				}
				var pe *planning.Error
				if err == nil || !asPlanningError(err, &pe) || pe.Code != planning.EINVALID || len(pe.Fields) != 1 || pe.Fields[0].Field != leaf.path {
					t.Errorf("%s.%s: %s: got %v, want 422 naming %q", typ.Name(), leaf.path, h.name, err, leaf.path)
				}
			}
			for _, ok := range harmless {
				body := bytes.Replace(base, placeholder, []byte(`"`+ok+`"`), 1)
				if err := unmarshalStrict(body, mk()); err != nil {
					t.Errorf("%s.%s: harmless %q refused: %v", typ.Name(), leaf.path, ok, err)
				}
			}
		}
	}
}

func asPlanningError(err error, pe **planning.Error) bool {
	e, ok := err.(*planning.Error)
	*pe = e
	return ok
}

// TestBadSurrogate checks the raw-escape scanner on its own.
func TestBadSurrogate(t *testing.T) {
	for raw, want := range map[string]bool{
		`"\ud83d\ude00"`: false, `"\ud800"`: true, `"\udfff"`: true, `"\ud800\u0041"`: true, `"\\ud800"`: false,
		`"\\\ud800"`: true, `"\u00e9"`: false, `"\ud800\\udc00"`: true, `"x\"\ud800"`: true, `"\uD83D\uDE00"`: false,
	} {
		if got := badSurrogate([]byte(raw)); got != want {
			t.Errorf("badSurrogate(%s) = %v, want %v", raw, got, want)
		}
	}
}

// TestUploadFormFieldsFollowTheTextRule checks the form fields sent beside
// an uploaded file: hostile text is refused naming the field, as in JSON
// bodies.
func TestUploadFormFieldsFollowTheTextRule(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		ok          bool
	}{
		{"plain", "FY2027", true},
		{"bidi override", "FY\u202e7202", false},
		{"control character", "FY\x072027", false},
		{"line break", "FY2027\nx", false},
		{"invalid UTF-8", "FY\xff2027", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body bytes.Buffer
			w := multipart.NewWriter(&body)
			if err := w.WriteField("round", tc.value); err != nil {
				t.Fatal(err)
			}
			fw, _ := w.CreateFormFile("file", "a.csv")
			fw.Write([]byte("org_unit,product_line,measure,month,amount\n"))
			w.Close()
			req := httptest.NewRequest(http.MethodPost, "/", &body)
			req.Header.Set("Content-Type", w.FormDataContentType())
			c := echo.New().NewContext(req, httptest.NewRecorder())
			_, err := readUpload(c, "round")
			var de *planning.Error
			switch {
			case tc.ok && err != nil:
				t.Fatalf("refused: %v", err)
			case !tc.ok && (!errors.As(err, &de) || de.Code != planning.EINVALID || len(de.Fields) != 1 || de.Fields[0].Field != "round"):
				t.Fatalf("%q: %v, want 422 naming round", tc.value, err)
			}
		})
	}
}
