package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"

	"github.com/labstack/echo/v4"
	"github.com/shopspring/decimal"

	"github.com/cascade-planning/cascade/planning"
)

// The grid is the most read response: it is written here directly, the
// bytes encoding/json would write for GridPage (the property test
// TestGridJSONIsEncodingJSON holds them equal), without reflection and
// with amounts formatted from their integers of minor units.

// gridEncoder writes grid pages; BenchmarkGridRead swaps in the
// encoding/json baseline.
var gridEncoder = appendGridPage

// gridBuffers recycles the buffers grid pages are written into.
var gridBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// writeGrid answers a grid page with the version's revision as ETag.
func writeGrid(c echo.Context, revision int64, versionID int64, grain string, rows []planning.GridRow, next string) error {
	if _, pretty := c.QueryParams()["pretty"]; pretty || c.Echo().Debug {
		// Indented, as echo writes every other response then.
		return ok(c, revision, gridPage(versionID, grain, rows, next))
	}
	setETag(c, revision)
	bp := gridBuffers.Get().(*[]byte)
	defer gridBuffers.Put(bp)
	*bp = gridEncoder((*bp)[:0], versionID, grain, rows, next)
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, *bp)
}

// appendGridPage appends the JSON of GridPage, newline included, as the
// API's encoder writes it.
func appendGridPage(dst []byte, versionID int64, grain string, rows []planning.GridRow, next string) []byte {
	dst = append(dst, `{"version_id":`...)
	dst = strconv.AppendInt(dst, versionID, 10)
	dst = append(dst, `,"grain":`...)
	dst = appendJSONString(dst, grain)
	dst = append(dst, `,"items":[`...)
	for i := range rows {
		r := &rows[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"org_unit_id":`...)
		dst = strconv.AppendInt(dst, r.OrgUnitID, 10)
		dst = append(dst, `,"org_unit":`...)
		dst = appendJSONString(dst, r.OrgUnitCode)
		dst = append(dst, `,"product_line_id":`...)
		dst = strconv.AppendInt(dst, r.ProductLineID, 10)
		dst = append(dst, `,"product_line":`...)
		dst = appendJSONString(dst, r.ProductLineCode)
		dst = append(dst, `,"measure_id":`...)
		dst = strconv.AppendInt(dst, r.MeasureID, 10)
		dst = append(dst, `,"measure":`...)
		dst = appendJSONString(dst, r.MeasureCode)
		dst = append(dst, `,"periods":[`...)
		for j, p := range r.Periods {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"period":`...)
			dst = appendJSONString(dst, p.Period)
			dst = append(dst, `,"amount":`...)
			dst = appendGridAmount(dst, p.Amount, p.Absent, r.Scale)
			dst = append(dst, '}')
		}
		dst = append(dst, `],"total":`...)
		dst = appendGridAmount(dst, r.Total, r.TotalAbsent, r.Scale)
		dst = append(dst, '}')
	}
	dst = append(dst, ']')
	if next != "" {
		dst = append(dst, `,"next_cursor":`...)
		dst = appendJSONString(dst, next)
	}
	return append(dst, '}', '\n')
}

// appendGridAmount appends an amount as a JSON string, or null when the
// measure's rule gives the period no value (gridAmount).
func appendGridAmount(dst []byte, d decimal.Decimal, absent bool, scale int32) []byte {
	if absent {
		return append(dst, "null"...)
	}
	dst = append(dst, '"')
	dst = planning.AppendAmount(dst, d, scale)
	return append(dst, '"')
}

// appendJSONString appends s as encoding/json writes it: printable ASCII
// other than the characters it escapes as is, anything else through
// encoding/json itself.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s)
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
