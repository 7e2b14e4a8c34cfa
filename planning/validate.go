package planning

import (
	"regexp"
	"unicode/utf8"
)

// MaxNameLength is the longest name, in characters, any entity accepts.
const MaxNameLength = 200

var codePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// validateCode checks an identifier-like code: letters, digits, '_', '.',
// '-', starting with a letter or digit, at most 64 characters.
func validateCode(v *Validation, field, code string) {
	if code == "" {
		v.Add(field, "is required")
	} else if !codePattern.MatchString(code) {
		v.Add(field, "must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit")
	}
}

// validateName checks a human-readable name in any script: one line of
// text (CheckText), at most MaxNameLength characters.
func validateName(v *Validation, field, name string, required bool) {
	switch {
	case CheckText(name, false) != "":
		checkText(v, field, name, false)
	case required && name == "":
		v.Add(field, "is required")
	case utf8.RuneCountInString(name) > MaxNameLength:
		v.Add(field, "must be at most %d characters", MaxNameLength)
	}
}
