package allocation

import (
	"errors"
	"fmt"
)

// Error codes. They are strings so that a caller can map them to its own
// codes in one table; the planning and api packages map EINVALID and
// EINFEASIBLE to 422, ETOOLARGE to 413 and EINTERNAL to 500.
const (
	// EINVALID means the input is malformed: a negative weight, an amount
	// with more decimal places than the scale, a duplicate or empty key, an
	// unknown method, a missing level.
	EINVALID = "invalid"
	// EINFEASIBLE means the input is well formed but asks for something that
	// cannot be done exactly: locked or manual amounts that exceed the
	// parent, weights that add up to zero under ZeroWeightFail, manual
	// amounts that leave a residual under ResidualFail, locks that cover
	// every child but not the whole parent.
	EINFEASIBLE = "infeasible"
	// ETOOLARGE means an input is beyond a documented limit (MaxDigits,
	// MaxScale, MaxBufferPlaces).
	ETOOLARGE = "too_large"
	// EINTERNAL means the package broke one of its own guarantees. It is a
	// bug; the message says which guarantee.
	EINTERNAL = "internal"
)

// Error is the one error type of the package. Every error returned by an
// exported function is an *Error with a non-empty Code and Message.
//
// Field names the offending input as a path into the call's arguments, such
// as "children[2].weight", "levels[1].buffer" or
// "root.children[0].children[3].key"; it is empty when the problem is not
// tied to one field. Key is the key of the child or node concerned, when
// there is one, so a caller that built the input from its own records can
// point at the record.
type Error struct {
	Code    string
	Field   string
	Key     string
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string {
	switch {
	case e.Field != "" && e.Key != "":
		return fmt.Sprintf("allocation: %s (%s): %s", e.Field, e.Key, e.Message)
	case e.Field != "":
		return fmt.Sprintf("allocation: %s: %s", e.Field, e.Message)
	}
	return "allocation: " + e.Message
}

// ErrorCode returns the code of err if it is (or wraps) an *Error, "" for
// nil, and EINTERNAL for any other error.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	}
	return EINTERNAL
}

// errorf returns an *Error for a field with a formatted message.
func errorf(code, field, key, format string, args ...any) *Error {
	return &Error{Code: code, Field: field, Key: key, Message: fmt.Sprintf(format, args...)}
}

// internalf reports a broken guarantee.
func internalf(format string, args ...any) *Error {
	return &Error{Code: EINTERNAL, Message: "internal error: " + fmt.Sprintf(format, args...)}
}
