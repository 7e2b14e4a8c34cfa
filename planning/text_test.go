package planning

import "testing"

func TestCheckText(t *testing.T) {
	for _, tt := range []struct {
		name        string
		in          string
		line, multi bool // accepted as one line, as multi-line text
	}{
		{"plain", "Shanghai 2027", true, true},
		{"CJK", "上海分行 目标责任书", true, true},
		{"RTL script", "שלום مرحبا", true, true},
		{"right-to-left mark", "a\u200fb", true, true},
		{"emoji", "😀", true, true},
		{"empty", "", true, true},
		{"NUL", "a\x00b", false, false},
		{"bell", "a\x07b", false, false},
		{"escape", "\x1b[2J", false, false},
		{"DEL", "a\x7fb", false, false},
		{"NEL (C1)", "a\u0085b", false, false},
		{"CSI (C1)", "a\u009bb", false, false},
		{"tab", "a\tb", false, true},
		{"line feed", "a\nb", false, true},
		{"CR LF", "a\r\nb", false, true},
		{"CR alone", "a\rb", false, false},
		{"CR at the end", "a\r", false, false},
		{"LRE", "a\u202ab", false, false},
		{"RLO", "a\u202eb", false, false},
		{"LRI", "a\u2066b", false, false},
		{"PDI", "a\u2069b", false, false},
		{"invalid UTF-8", "a\xffb", false, false},
		{"surrogate bytes", "\xed\xa0\x80", false, false},
	} {
		if got := CheckText(tt.in, false) == ""; got != tt.line {
			t.Errorf("%s as one line: accepted %v, want %v", tt.name, got, tt.line)
		}
		if got := CheckText(tt.in, true) == ""; got != tt.multi {
			t.Errorf("%s as multi-line text: accepted %v, want %v", tt.name, got, tt.multi)
		}
	}
}
