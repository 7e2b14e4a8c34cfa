package planning

import "unicode/utf8"

// CheckText is the one rule for free text a user gives (names, titles,
// labels, comments, reasons): it returns what is wrong with s, or "" when
// nothing is. Text must be valid UTF-8 and hold no control characters (C0,
// DEL, C1) and none of the bidirectional embedding, override and isolate
// characters (U+202A–U+202E, U+2066–U+2069), which make text display
// otherwise than it reads. Multi-line text (comments, reasons) may hold tabs
// and line breaks (LF, or CR LF).
func CheckText(s string, multiline bool) string {
	if !utf8.ValidString(s) {
		return "must be valid UTF-8"
	}
	for i, r := range s {
		switch {
		case multiline && (r == '\t' || r == '\n'):
		case multiline && r == '\r' && i+1 < len(s) && s[i+1] == '\n':
		case r < 0x20 || r >= 0x7f && r <= 0x9f:
			if multiline {
				return "must not contain control characters (tabs and line breaks are fine)"
			}
			return "must not contain control characters or line breaks"
		case r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069:
			return "must not contain bidirectional embedding, override or isolate characters (U+202A–U+202E, U+2066–U+2069)"
		}
	}
	return ""
}

// checkText adds CheckText's verdict on field to v.
func checkText(v *Validation, field, s string, multiline bool) {
	if msg := CheckText(s, multiline); msg != "" {
		v.Add(field, "%s", msg)
	}
}
