package allocation

import (
	"fmt"

	"github.com/shopspring/decimal"
)

// Row is one row of a table to round: a child with its year.
type Row struct {
	Key   string
	Total decimal.Decimal
	// Months, when not nil, pins the row's cells (a locked child whose
	// months must stay as they are). There is one per column and they must
	// add up to Total.
	Months []decimal.Decimal
}

// Table is a children × months table whose rows add up to the children's
// years and whose columns add up to the parent's months, exactly.
type Table struct {
	scale  int32
	keys   []string // input order
	m      int
	totals []num // input order
	cols   []num
	cells  []num // input order, row-major
	// the canonical problem, for explanations
	perm  []int32
	rows  []num
	pins  [][]num
	canon []num
}

// PhaseTable rounds the table whose row i must add up to rows[i].Total and
// whose column j must add up to columns[j], at scale decimal places: the
// children's years on the rows, the parent's months on the columns. Both
// sums hold exactly at once, pinned rows keep their cells, and every other
// cell is within one minor unit of its exact quota
// Total_i × column_j / Σcolumns (after the pinned rows take their cells out
// of the columns). The method is a controlled rounding: largest remainders
// first, then augmenting paths; the package documentation has the proof.
// When the free rows add up to zero, the quota uses even month weights.
//
// PhaseTable returns an *Error: EINVALID for no rows or no columns, an
// empty or duplicate key, an amount with more places than scale, pinned
// cells of the wrong number or not adding up to their row, or rows and
// columns with different totals; EINFEASIBLE when every row is pinned and
// the pinned cells do not fill the columns.
func PhaseTable(scale int32, columns []decimal.Decimal, rows []Row) (*Table, error) {
	if err := checkScale(scale, "scale"); err != nil {
		return nil, err
	}
	if len(columns) == 0 {
		return nil, errorf(EINVALID, "columns", "", "there are no columns")
	}
	if len(rows) == 0 {
		return nil, errorf(EINVALID, "rows", "", "there are no rows")
	}
	m, n := len(columns), len(rows)
	t := &Table{scale: scale, m: m, keys: make([]string, n), totals: make([]num, n), cols: make([]num, m)}
	for j, c := range columns {
		v, err := toMinor(c, scale, fmt.Sprintf("columns[%d]", j), "")
		if err != nil {
			return nil, err
		}
		t.cols[j] = v
	}
	for i := range rows {
		t.keys[i] = rows[i].Key
	}
	perm, err := canonical(t.keys, nil, listField("rows"))
	if err != nil {
		return nil, err
	}
	t.perm = perm
	t.rows = make([]num, n)
	t.pins = make([][]num, n)
	for p, i := range perm {
		r := &rows[i]
		field := fmt.Sprintf("rows[%d]", i)
		v, err := toMinor(r.Total, scale, field+".total", r.Key)
		if err != nil {
			return nil, err
		}
		t.totals[i], t.rows[p] = v, v
		if r.Months == nil {
			continue
		}
		if len(r.Months) != m {
			return nil, errorf(EINVALID, field+".months", r.Key, "%d pinned cells for %d columns", len(r.Months), m)
		}
		pin := make([]num, m)
		for j, d := range r.Months {
			if pin[j], err = toMinor(d, scale, fmt.Sprintf("%s.months[%d]", field, j), r.Key); err != nil {
				return nil, err
			}
		}
		if s := sumNums(pin); s.cmp(v) != 0 {
			return nil, errorf(EINVALID, field+".months", r.Key, "the pinned cells add up to %s, not to the row's total %s",
				Amount{v: s, scale: scale}, Amount{v: v, scale: scale})
		}
		t.pins[p] = pin
	}
	if rs, cs := sumNums(t.rows), sumNums(t.cols); rs.cmp(cs) != 0 {
		return nil, errorf(EINVALID, "rows", "", "the rows add up to %s but the columns to %s",
			Amount{v: rs, scale: scale}, Amount{v: cs, scale: scale})
	}
	if err := t.run(nil); err != nil {
		return nil, err
	}
	return t, nil
}

// run rounds the canonical problem and scatters it to input order.
func (t *Table) run(tr *gridTrace) *Error {
	n, m := len(t.keys), t.m
	fb := make([]num, m)
	for j := range fb {
		fb[j] = small(1)
	}
	t.canon = resize(t.canon, n*m)
	st := getStepper(t.scale)
	defer putStepper(st)
	if err := st.grid.round(t.rows, t.cols, t.pins, fb, small(int64(m)), t.canon, tr); err != nil {
		if err.Code != EINTERNAL {
			err.Field = "rows"
		}
		return err
	}
	t.cells = resize(t.cells, n*m)
	for p, i := range t.perm {
		copy(t.cells[int(i)*m:int(i+1)*m], t.canon[p*m:(p+1)*m])
	}
	return nil
}

// Rows returns the number of rows.
func (t *Table) Rows() int { return len(t.keys) }

// Columns returns the number of columns.
func (t *Table) Columns() int { return t.m }

// Key returns the key of row i, in input order.
func (t *Table) Key(i int) string { return t.keys[i] }

// Total returns the total of row i.
func (t *Table) Total(i int) Amount { return Amount{v: t.totals[i], scale: t.scale} }

// Column returns the total of column j.
func (t *Table) Column(j int) Amount { return Amount{v: t.cols[j], scale: t.scale} }

// Cell returns cell (i, j): row i in input order, column j from 0.
func (t *Table) Cell(i, j int) Amount { return Amount{v: t.cells[i*t.m+j], scale: t.scale} }

// Explain explains every cell of row i. Like Result.Explain it reruns the
// rounding with tracing.
func (t *Table) Explain(i int) ([]Explanation, error) {
	tr := &gridTrace{}
	again := &Table{scale: t.scale, keys: t.keys, m: t.m, perm: t.perm, rows: t.rows, pins: t.pins, cols: t.cols}
	if err := again.run(tr); err != nil {
		return nil, err
	}
	if !equalNums(again.cells, t.cells) {
		return nil, internalf("the table did not repeat itself")
	}
	p := 0
	for int(t.perm[p]) != i {
		p++
	}
	k := freeIndex(tr.free, len(t.keys))[p]
	ex := make([]Explanation, t.m)
	for j := range ex {
		ex[j] = explainCell(tr, k, j, t.keys[i], t.cells[i*t.m+j], t.scale)
	}
	return ex, nil
}
