package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/cascade-planning/cascade/planning"
)

// upload is a file sent as multipart/form-data, with the small form fields
// sent beside it.
type upload struct {
	name   string
	data   []byte
	fields map[string]string
}

// maxFieldBytes bounds a form field sent beside an uploaded file.
const maxFieldBytes = 1024

// readUpload reads a multipart/form-data body holding one file in the part
// named "file" and at most the named fields, each once. The body is limited
// like any bulk body (Config.BulkBodyLimit, 413 beyond); the file is read
// into memory whole, which that limit bounds, and what reading it unpacks is
// bounded by spreadsheet.DefaultLimits.
func readUpload(c echo.Context, fields ...string) (*upload, error) {
	req := c.Request()
	mt, _, err := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
	if err != nil || mt != "multipart/form-data" {
		return nil, echo.NewHTTPError(http.StatusUnsupportedMediaType, "send the file as multipart/form-data in a part named \"file\"")
	}
	mr, err := req.MultipartReader()
	if err != nil {
		return nil, planning.Errorf(EBADREQUEST, "malformed multipart body: %s", err)
	}
	up := &upload{fields: map[string]string{}}
	seenFile := false
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, uploadError(err)
		}
		name := part.FormName()
		switch {
		case name == "file":
			if seenFile {
				return nil, badRequest("file", "must be sent once")
			}
			seenFile = true
			up.name = part.FileName()
			if !plainText(up.name) {
				return nil, badRequest("file", "has a file name that is not UTF-8 text without NUL characters")
			}
			// Read into one buffer sized from the request, not by doubling.
			var buf bytes.Buffer
			if n := req.ContentLength; n > 0 && n <= 64<<20 {
				buf.Grow(int(n))
			}
			if _, err := buf.ReadFrom(part); err != nil {
				return nil, uploadError(err)
			}
			up.data = buf.Bytes()
		case containsString(fields, name):
			if _, dup := up.fields[name]; dup {
				return nil, badRequest(name, "must be given at most once")
			}
			b, err := io.ReadAll(io.LimitReader(part, maxFieldBytes+1))
			if err != nil {
				return nil, uploadError(err)
			}
			if len(b) > maxFieldBytes {
				return nil, badRequest(name, "is too long")
			}
			// Form fields follow the rule every free text of a request
			// follows (the JSON decoder applies it to bodies).
			if msg := planning.CheckText(string(b), false); msg != "" {
				return nil, &planning.Error{Code: planning.EINVALID, Message: name + ": " + msg,
					Fields: []planning.FieldError{{Field: name, Message: msg}}}
			}
			up.fields[name] = strings.TrimSpace(string(b))
		default:
			return nil, badRequest(name, "is not a known form field")
		}
		part.Close()
	}
	if !seenFile {
		return nil, badRequest("file", "is required: send the file in a multipart part named \"file\"")
	}
	return up, nil
}

func uploadError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return planning.Errorf(planning.ETOOLARGE, "the upload is larger than the limit of %d bytes", mbe.Limit)
	}
	return planning.Errorf(EBADREQUEST, "malformed multipart body: %s", err)
}

func containsString(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

// option returns an option given as a query parameter or as a form field of
// the upload; giving it both ways differently is a 400.
func (up *upload) option(q *query, name string) (string, error) {
	fromQuery, inQuery := q.get(name)
	fromForm, inForm := up.fields[name]
	switch {
	case inQuery && inForm && fromQuery != fromForm:
		return "", badRequest(name, "is given twice, as a query parameter and as a form field, differently")
	case inQuery:
		return fromQuery, nil
	}
	return fromForm, nil
}

// dryRun reads the dry_run option.
func (up *upload) dryRun(q *query) (bool, error) {
	s, err := up.option(q, "dry_run")
	if err != nil || s == "" {
		return false, err
	}
	b, perr := strconv.ParseBool(s)
	if perr != nil || (s != "true" && s != "false") {
		return false, badRequest("dry_run", "must be true or false")
	}
	return b, nil
}

func (up *upload) checksum() string {
	sum := sha256.Sum256(up.data)
	return hex.EncodeToString(sum[:])
}

// ImportProblem is one thing wrong with an uploaded file: the sheet (for a
// workbook), the row as a spreadsheet program numbers it (1 is the header;
// 0 the file as a whole), the column, the value found and why it is refused.
type ImportProblem struct {
	Sheet  string `json:"sheet,omitempty" example:"revenue"`
	Row    int    `json:"row" example:"12"`
	Column string `json:"column,omitempty" example:"amount"`
	Value  string `json:"value" example:"1.005"`
	Reason string `json:"reason" example:"has 3 decimal places; this measure keeps 2"`
}

func fromDomainProblems(ps []planning.ImportProblem) []ImportProblem {
	out := make([]ImportProblem, len(ps))
	for i, p := range ps {
		out[i] = ImportProblem{Sheet: p.Sheet, Row: p.Row, Column: p.Column, Value: planning.ClipValue(p.Value), Reason: p.Reason}
	}
	return out
}

// writeProblemWith answers with the problem err maps to, extended with one
// more member (RFC 9457 allows extension members): the report of an import
// that was refused, so a client gets every bad row with the status.
func (s *Server) writeProblemWith(c echo.Context, err error, name string, ext any) error {
	p, internal := problemFor(err)
	if internal {
		return err
	}
	p.Instance = c.Request().URL.Path
	p.RequestID = c.Response().Header().Get(echo.HeaderXRequestID)
	body := map[string]any{name: ext}
	b, merr := jsonObject(p)
	if merr != nil {
		return merr
	}
	for k, v := range b {
		body[k] = v
	}
	c.Response().Header().Set(echo.HeaderContentType, problemMediaType)
	c.Response().WriteHeader(p.Status)
	return writeJSON(c.Response(), body)
}

// jsonObject returns the members of v's JSON object.
func jsonObject(v any) (map[string]json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	return m, json.Unmarshal(b, &m)
}
