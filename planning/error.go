package planning

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to exactly one HTTP status in the api package,
// which adds the codes of its own about the request as sent (a malformed
// request, a missing If-Match, too many requests).
const (
	EINVALID      = "invalid"      // a rule about the input is broken (422)
	ENOTFOUND     = "not_found"    // unknown, or invisible to the caller (404)
	ECONFLICT     = "conflict"     // the resource is in the wrong state (409)
	EPRECONDITION = "precondition" // a stale If-Match (412)
	EUNAUTHORIZED = "unauthorized" // no valid credentials (401)
	EFORBIDDEN    = "forbidden"    // authenticated, but out of role or scope (403)
	ETOOLARGE     = "too_large"    // a documented limit is exceeded (413)
	ETHROTTLED    = "throttled"    // too many failed attempts, such as sign-ins; wait and retry (429)
	EUNAVAILABLE  = "unavailable"  // a dependency such as the database is down (503)
	EINTERNAL     = "internal"     // anything else; details are logged, not shown (500)
)

// FieldError names one offending input field and says what is wrong with it.
type FieldError struct {
	Field   string
	Message string
}

// Error is the one error type of the domain. Its Message is written for the
// user and is shown as it is; Fields lists validation failures per field.
type Error struct {
	Code    string
	Message string
	Fields  []FieldError
	// Cause is what went wrong underneath, such as the database's own error
	// behind an EUNAVAILABLE: logged, never shown to the user.
	Cause error
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Cause }

// Error implements the error interface. It includes the cause, so logs
// keep it; users see only Message.
func (e *Error) Error() string {
	s := fmt.Sprintf("cascade: code=%s message=%s", e.Code, e.Message)
	if len(e.Fields) > 0 {
		s += fmt.Sprintf(" fields=%v", e.Fields)
	}
	if e.Cause != nil {
		s += " cause=" + e.Cause.Error()
	}
	return s
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err if it is (or wraps) an *Error, and
// EINTERNAL for any other non-nil error.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err. Errors that are not an
// *Error are internal and get a generic message, so internals never leak.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// Validation collects field errors so a caller can report all of them at once.
type Validation struct {
	fields []FieldError
}

// Fields returns the problems recorded so far.
func (v *Validation) Fields() []FieldError { return v.fields }

// Add records a problem with one field.
func (v *Validation) Add(field, format string, args ...any) {
	v.fields = append(v.fields, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Err returns an EINVALID *Error listing every recorded field, or nil when
// nothing was recorded.
func (v *Validation) Err() error {
	if len(v.fields) == 0 {
		return nil
	}
	msg := "invalid input: " + v.fields[0].Field + ": " + v.fields[0].Message
	if len(v.fields) > 1 {
		msg = fmt.Sprintf("%s (and %d more)", msg, len(v.fields)-1)
	}
	return &Error{Code: EINVALID, Message: msg, Fields: v.fields}
}

// FieldErrorf is an error about one field of the input: the message names
// the field, and Fields carries it for the caller to point at.
func FieldErrorf(code, field, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	return &Error{Code: code, Message: field + ": " + msg, Fields: []FieldError{{Field: field, Message: msg}}}
}
