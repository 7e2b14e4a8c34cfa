package api

import "github.com/cascade-planning/cascade/planning"

// UseReflectGridEncoder makes grid reads use encoding/json and StringFixed,
// as they did before the direct encoder, until the returned func restores
// it: the baseline of BenchmarkGridRead.
func UseReflectGridEncoder() (restore func()) {
	gridEncoder = func(dst []byte, id int64, grain string, rows []planning.GridRow, next string) []byte {
		return append(dst, encodeGridReflect(id, grain, rows, next)...)
	}
	return func() { gridEncoder = appendGridPage }
}
