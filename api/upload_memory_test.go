package api_test

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cascade-planning/cascade/api"
	"github.com/cascade-planning/cascade/api/apitest"
	"github.com/cascade-planning/cascade/spreadsheet/xlsxtest"
)

// heapSampler records the peak of the live heap (objects allocated and not
// yet freed) by reading runtime/metrics every few hundred microseconds.
type heapSampler struct {
	peak atomic.Uint64
	stop chan struct{}
	done sync.WaitGroup
}

func heapObjects() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func startHeapSampler() *heapSampler {
	h := &heapSampler{stop: make(chan struct{})}
	h.done.Add(1)
	go func() {
		defer h.done.Done()
		t := time.NewTicker(200 * time.Microsecond)
		defer t.Stop()
		for {
			if v := heapObjects(); v > h.peak.Load() {
				h.peak.Store(v)
			}
			select {
			case <-h.stop:
				return
			case <-t.C:
			}
		}
	}()
	return h
}

func (h *heapSampler) Stop() uint64 {
	close(h.stop)
	h.done.Wait()
	if v := heapObjects(); v > h.peak.Load() {
		h.peak.Store(v)
	}
	return h.peak.Load()
}

// maxHeapGrowth is how far above its baseline the heap may grow while the
// server reads any one hostile upload.
const maxHeapGrowth = 64 << 20

// TestUploadBombsKeepMemoryBounded sends files that unpack to hundreds of
// megabytes through the real HTTP handlers of every upload route, and
// checks each is refused (413 naming the limit, or 422 for a malformed
// workbook) or read, while the process's live heap stays within
// maxHeapGrowth of what it was before the request. The bombs are built
// before the measurement starts.
func TestUploadBombsKeepMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("builds files that unpack to gigabytes")
	}
	env := apitest.New(t)
	// This test measures memory, never time: on a loaded machine one bomb
	// may take minutes to read, which must not fail it.
	env.Client.Timeout = 10 * time.Minute
	round := openDemoRound(t, env, "FY2027")
	vid := *round.WorkingVersionID
	if status, _, body := cascadeRevenue(t, env, "pm-industry", vid, "POS", "12000000.00", false); status != 201 {
		t.Fatalf("allocate: %d %s", status, body)
	}
	book := exportXLSX(t, env, "pm-industry", vid, "product_line=POS&measure=revenue")

	must := func(b []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	actuals, imports := "/api/v1/actuals/imports", fmt.Sprintf("/api/v1/versions/%d/imports", vid)
	cellHead := xlsxtest.SheetHead + `<row r="1"><c r="A1" t="inlineStr"><is><t>`
	cellTail := `</t></is></c></row>` + xlsxtest.SheetTail
	bombs := []struct {
		name, path, user, file string
		data                   []byte
		status                 int
		limit                  string // named by a 413, or said by a 422
	}{
		{"actuals: one cell of 256 MiB of spaces", actuals, "strategy", "a.xlsx", must(xlsxtest.CellBomb(256 << 20)), 413, "max_part_bytes"},
		{"actuals: one cell of 200 MiB of spaces", actuals, "strategy", "a.xlsx", must(xlsxtest.CellBomb(200 << 20)), 413, "max_cell_chars"},
		{"actuals: a header lying about 200 MiB", actuals, "strategy", "a.xlsx", must(xlsxtest.LyingBomb(200 << 20)), 422, "not a readable XLSX"},
		{"actuals: 40 padding parts of 16 MiB (and no data row)", actuals, "strategy", "a.xlsx", must(xlsxtest.PaddingBomb(40, 16<<20)), 422, ""},
		{"actuals: 500,001 shared strings", actuals, "strategy", "a.xlsx", must(xlsxtest.SharedStringsBomb(500_001, 1, 1)), 413, "max_shared_strings"},
		{"actuals: 16 MiB of shared strings", actuals, "strategy", "a.xlsx", must(xlsxtest.SharedStringsBomb(600, 30_000, 1)), 413, "max_shared_string_bytes"},
		{"actuals: one shared string of 30,000 characters in 100,000 cells", actuals, "strategy", "a.xlsx", must(xlsxtest.SharedStringsBomb(1, 30_000, 20_000)), 422, ""},
		{"actuals: 500,000 rows holding TRUE", actuals, "strategy", "a.xlsx", must(xlsxtest.Workbook(rowsPart(500_000, func(w io.Writer, r int) error {
			_, err := fmt.Fprintf(w, `<row r="%d"><c r="A%d" t="inlineStr"><is><t>B-SH-KA</t></is></c><c r="E%d" t="b"><v>1</v></c></row>`, r, r, r)
			return err
		}))), 422, "the file has 10001 problem(s)"},
		{"actuals: a value in XFD1048576", actuals, "strategy", "a.xlsx", must(xlsxtest.FarCellBomb("XFD1048576")), 413, "max_columns"},
		{"actuals: a value in IV1048576", actuals, "strategy", "a.xlsx", must(xlsxtest.FarCellBomb("IV1048576")), 413, "max_cells"},
		{"actuals: elements nested a million deep", actuals, "strategy", "a.xlsx", must(xlsxtest.DeepBomb(1 << 20)), 422, "nests elements more than 32 deep"},
		{"actuals: 100,000 empty parts", actuals, "strategy", "a.xlsx", must(xlsxtest.ManyPartsBomb(100_000)), 413, "max_parts"},
		{"actuals: a CSV line of 15 MiB", actuals, "strategy", "a.csv",
			[]byte("org_unit,product_line,measure,month,amount\n" + strings.Repeat("x", 15<<20)), 413, "max_record_bytes"},
		{"actuals: a CSV quoted field of 15 MiB over many lines", actuals, "strategy", "a.csv",
			[]byte("org_unit,product_line,measure,month,amount\n\"" + strings.Repeat("x\n", 15<<19) + "\""), 413, "max_record_bytes"},
		{"workbook: one cell of 200 MiB in the hidden sheet", imports, "pm-industry", "b.xlsx",
			must(xlsxtest.Replace(book, xlsxtest.Repeat("xl/worksheets/sheet2.xml", cellHead, " ", 200<<20, cellTail))), 413, "max_cell_chars"},
		{"workbook: one cell of 256 MiB in the measure sheet", imports, "pm-industry", "b.xlsx",
			must(xlsxtest.Replace(book, xlsxtest.Repeat("xl/worksheets/sheet1.xml", cellHead, " ", 256<<20, cellTail))), 413, "max_part_bytes"},
		{"workbook: 40 padding parts of 16 MiB", imports, "pm-industry", "b.xlsx",
			must(xlsxtest.Replace(book, paddings(40, 16<<20)...)), 200, ""},
		{"workbook: 500,001 shared strings", imports, "pm-industry", "b.xlsx",
			must(xlsxtest.Replace(book, xlsxtest.Repeat("xl/sharedStrings.xml", `<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">`, "<si><t>x</t></si>", 500_001, "</sst>"))), 413, "max_shared_strings"},
		{"workbook: a hidden sheet listing 150,000 rows", imports, "pm-industry", "b.xlsx",
			must(xlsxtest.Replace(book, hiddenSheet(vid, round.ID, 150_000))), 422, "more than an export writes"},
		{"workbook: 900,000 rows that were not exported", imports, "pm-industry", "b.xlsx",
			must(xlsxtest.Replace(book, rowsPart(900_000, func(w io.Writer, r int) error {
				if r == 5 {
					_, err := io.WriteString(w, `<row r="5"><c r="A5" t="inlineStr"><is><t>Org unit</t></is></c><c r="C5" t="inlineStr"><is><t>Product line</t></is></c></row>`)
					return err
				}
				_, err := fmt.Fprintf(w, `<row r="%d"><c r="A%d" t="inlineStr"><is><t>X%d</t></is></c><c r="C%d" t="inlineStr"><is><t>POS</t></is></c></row>`, r, r, r, r)
				return err
			}, "xl/worksheets/sheet1.xml"))), 422, "more than 10000 problems"},
		{"workbook: a value in IV1048576 of the measure sheet", imports, "pm-industry", "b.xlsx",
			must(xlsxtest.Replace(book, xlsxtest.Text("xl/worksheets/sheet1.xml", xlsxtest.SheetHead+`<row r="1048576"><c r="IV1048576"><v>1</v></c></row>`+xlsxtest.SheetTail))), 413, "max_cells"},
	}
	type prepared struct {
		body []byte
		ct   string
	}
	bodies := make([]prepared, len(bombs))
	for i, b := range bombs {
		bodies[i].body, bodies[i].ct = multipartBody(t, b.file, b.data, nil)
		bombs[i].data = nil
	}
	// The bound is on what the server keeps, not on garbage waiting for
	// the collector: collect eagerly while measuring.
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	for i, b := range bombs {
		runtime.GC()
		base := heapObjects()
		h := startHeapSampler()
		r := env.Request(http.MethodPost, b.path, apitest.Token(b.user), bodies[i].body, map[string]string{"Content-Type": bodies[i].ct})
		peak := h.Stop()
		bodies[i].body = nil
		growth := int64(peak) - int64(base)
		t.Logf("%-55s %d, heap +%5.1f MiB", b.name, r.Status, float64(growth)/(1<<20))
		if growth > maxHeapGrowth {
			t.Errorf("%s: the heap grew by %.1f MiB, more than %d MiB", b.name, float64(growth)/(1<<20), maxHeapGrowth>>20)
		}
		if r.Status != b.status {
			t.Errorf("%s: %d %.300s, want %d", b.name, r.Status, r.Body, b.status)
			continue
		}
		if b.status == 422 && !strings.Contains(string(r.Body), b.limit) {
			t.Errorf("%s: the problem does not say %q: %.300s", b.name, b.limit, r.Body)
		}
		if b.status == 413 {
			var p api.Problem
			r.Decode(t, &p)
			if r.Header.Get("Content-Type") != "application/problem+json" || len(p.Errors) != 1 || p.Errors[0].Field != "file" ||
				!strings.Contains(p.Errors[0].Message, b.limit) || !strings.Contains(p.Detail, b.limit) {
				t.Errorf("%s: the problem does not name the limit %s: %s", b.name, b.limit, r.Body)
			}
		}
	}
}

func paddings(k, size int) []xlsxtest.Part {
	var out []xlsxtest.Part
	for i := range k {
		out = append(out, xlsxtest.Repeat(fmt.Sprintf("xl/media/padding%d.bin", i), "", "\x00", size, ""))
	}
	return out
}

// TestUploadsAreLimitedProcessWide holds the only upload slot with a
// request whose body never ends, and checks a second upload is refused
// with 503 and Retry-After before its body is read, and a third one gets
// the slot once the first is done.
func TestUploadsAreLimitedProcessWide(t *testing.T) {
	env := apitest.NewWith(t, apitest.Options{Config: api.Config{MaxUploads: 1, UploadWait: 100 * time.Millisecond}})
	body, ct := multipartBody(t, "a.csv", []byte("org_unit,product_line,measure,month,amount\n"), map[string]string{"dry_run": "true"})
	pr, pw := io.Pipe()
	defer pw.Close()
	first := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, env.URL+"/api/v1/actuals/imports", pr)
		req.Header.Set("Authorization", "Bearer "+apitest.Token("strategy"))
		req.Header.Set("Content-Type", ct)
		resp, err := env.Client.Do(req)
		if err != nil {
			first <- 0
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	if _, err := pw.Write(body[:10]); err != nil { // the first request is being read
		t.Fatal(err)
	}
	// Until the first request holds the slot, others may still get it.
	var r *apitest.Response
	for range 200 {
		if r = env.Request(http.MethodPost, "/api/v1/actuals/imports", apitest.Token("strategy"), body, map[string]string{"Content-Type": ct}); r.Status != 200 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	var p api.Problem
	r.Decode(t, &p)
	if r.Status != 503 || r.Header.Get("Retry-After") == "" || r.Header.Get("Content-Type") != "application/problem+json" || !strings.Contains(p.Detail, "uploaded files") {
		t.Fatalf("second upload: %d %v %s", r.Status, r.Header, r.Body)
	}
	// Other requests are not held up.
	if r := env.Request(http.MethodGet, "/api/v1/me", apitest.Token("strategy"), nil, nil); r.Status != 200 {
		t.Fatalf("me: %d", r.Status)
	}
	if _, err := pw.Write(body[10:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if s := <-first; s != 200 {
		t.Fatalf("first upload: %d", s)
	}
	if r := env.Request(http.MethodPost, "/api/v1/actuals/imports", apitest.Token("strategy"), body, map[string]string{"Content-Type": ct}); r.Status != 200 {
		t.Fatalf("third upload: %d %s", r.Status, r.Body)
	}
}

// hiddenSheet is the hidden sheet of an exported workbook (the second sheet
// of a one-measure export) listing n rows of 20 columns.
func hiddenSheet(vid, roundID int64, n int) xlsxtest.Part {
	return xlsxtest.Part{Name: "xl/worksheets/sheet2.xml", Write: func(w io.Writer) error {
		row := func(r int, vals ...string) error {
			if _, err := fmt.Fprintf(w, `<row r="%d">`, r); err != nil {
				return err
			}
			for i, v := range vals {
				if _, err := fmt.Fprintf(w, `<c r="%c%d" t="inlineStr"><is><t>%s</t></is></c>`, 'A'+i, r, v); err != nil {
					return err
				}
			}
			_, err := io.WriteString(w, "</row>")
			return err
		}
		if _, err := io.WriteString(w, xlsxtest.SheetHead); err != nil {
			return err
		}
		head := [][]string{{"format", "cascade-targets/1"}, {"version_id", fmt.Sprint(vid)}, {"revision", "1"}, {"round_id", fmt.Sprint(roundID)}, {"grain", "month"},
			{"sheet", "org_unit", "product_line", "org_unit_id", "product_line_id", "measure_id", "scale", "row",
				"p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9", "p10", "p11", "p12"}}
		for i, h := range head {
			if err := row(i+1, h...); err != nil {
				return err
			}
		}
		amounts := strings.Split(strings.Repeat("1000.00,", 12), ",")[:12]
		for i := range n {
			if err := row(len(head)+1+i, append([]string{"revenue", fmt.Sprintf("U%d", i), "POS", fmt.Sprint(i + 1), "1", "1", "2", fmt.Sprint(i + 6)}, amounts...)...); err != nil {
				return err
			}
		}
		_, err := io.WriteString(w, xlsxtest.SheetTail)
		return err
	}}
}

// rowsPart is a worksheet whose rows 2 to n+1 (5 to n+4 when named, for a
// measure sheet) row writes, after the actuals header row when unnamed.
func rowsPart(n int, row func(w io.Writer, r int) error, name ...string) xlsxtest.Part {
	p := xlsxtest.Part{Write: func(w io.Writer) error {
		head, first := xlsxtest.SheetHead+xlsxtest.ActualsHeader, 2
		if len(name) > 0 {
			head, first = xlsxtest.SheetHead, 5
		}
		if _, err := io.WriteString(w, head); err != nil {
			return err
		}
		for r := first; r < first+n; r++ {
			if err := row(w, r); err != nil {
				return err
			}
		}
		_, err := io.WriteString(w, xlsxtest.SheetTail)
		return err
	}}
	if len(name) > 0 {
		p.Name = name[0]
	}
	return p
}
