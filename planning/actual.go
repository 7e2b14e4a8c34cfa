package planning

import (
	"context"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// Limits of an actuals import.
const (
	// MaxImportRows is the most data rows one import file may hold.
	MaxImportRows = 500_000
	// MaxImportProblems is the most problems an import report lists; a
	// file with more is refused all the same, and the report says how many
	// were left out.
	MaxImportProblems = 10_000
)

// Columns of an actuals file, in the order an export writes them. A file
// names them in its first row, in any order.
var ActualColumns = []string{"org_unit", "product_line", "measure", "month", "amount"}

// ActualKey names one actual: what an org unit achieved of a product line in
// one calendar month ("YYYY-MM"), by measure. Actuals are facts per month,
// not per round: every round whose fiscal year covers the month reads them.
type ActualKey struct {
	OrgUnitID     int64
	ProductLineID int64
	MeasureID     int64
	Month         string
}

// Actual is an actual amount.
type Actual struct {
	ActualKey
	Amount decimal.Decimal
}

// ActualInput is one data row of an import file as read, before any check:
// the codes and texts of its cells and the row number a spreadsheet program
// shows for it (the header is row 1).
type ActualInput struct {
	Row         int
	OrgUnit     string
	ProductLine string
	Measure     string
	Month       string
	Amount      string
}

// ImportProblem is one thing wrong with an import file: the row (0 for the
// file as a whole, 1 for the header), the column, the value found there and
// why it is refused. Sheet names the worksheet of a spreadsheet file when it
// matters.
type ImportProblem struct {
	Sheet  string
	Row    int
	Column string
	Value  string
	Reason string
}

// ActualImport is an import of actuals: the rows read from a file, the
// problems found while reading it (a wrong header, a malformed line), and
// the round whose months and measures the rows must fit, if any.
type ActualImport struct {
	Rows []ActualInput
	// ReadProblems were found while reading the file; any of them refuses
	// the import, but the rows are checked all the same so the report is
	// complete.
	ReadProblems []ImportProblem
	// RoundID, when set, restricts months to the round's fiscal year and
	// measures to the round's measures.
	RoundID  *int64
	DryRun   bool
	FileName string
	Format   string // "csv" or "xlsx"
	Checksum string // SHA-256 of the file, hex
}

// ActualImportReport says what an import did, or would do on a dry run or
// when it is refused: every problem, and how many actuals were added,
// changed, left unchanged and removed. Re-importing a file replaces what the
// same file imported before, so a second import of it changes nothing.
type ActualImportReport struct {
	ImportID int64 // 0 unless the import was written
	DryRun   bool
	Written  bool
	Rows     int
	Problems []ImportProblem
	// ProblemCount counts every problem, including those left out of
	// Problems beyond MaxImportProblems.
	ProblemCount int
	Added        int
	Changed      int
	Unchanged    int
	Removed      int
	// Months are the calendar months the file covers, ascending.
	Months   []string
	OrgUnits int
	At       time.Time
}

// Add records a problem, keeping at most MaxImportProblems of them.
func (r *ActualImportReport) Add(p ImportProblem) {
	r.ProblemCount++
	if len(r.Problems) < MaxImportProblems {
		p.Value = ClipValue(p.Value)
		r.Problems = append(r.Problems, p)
	}
}

// maxShownValue is how many characters of a refused value a problem shows.
const maxShownValue = 100

// ClipValue shortens a value a problem quotes to its first 100 characters
// and its length, so ten thousand problems about long cells stay a short
// report.
func ClipValue(s string) string {
	if len(s) <= maxShownValue {
		return s
	}
	n := 0
	for i := range s {
		if n == maxShownValue {
			return fmt.Sprintf("%s… (%d characters)", s[:i], utf8.RuneCountInString(s))
		}
		n++
	}
	return s
}

// Err returns an EINVALID error summarising the problems, with one field
// error per listed problem, or nil when there are none.
func (r *ActualImportReport) Err() error {
	if r.ProblemCount == 0 {
		return nil
	}
	fields := make([]FieldError, len(r.Problems))
	for i, p := range r.Problems {
		fields[i] = p.FieldError()
	}
	first := r.Problems[0]
	msg := fmt.Sprintf("the file has %d problem(s); nothing was imported. First: %s", r.ProblemCount, first.String())
	return &Error{Code: EINVALID, Message: msg, Fields: fields}
}

// FieldError renders the problem as a field error: the field names the row
// and column ("rows[12].amount"), the message the value and the reason.
func (p ImportProblem) FieldError() FieldError {
	field := "file"
	switch {
	case p.Row > 0 && p.Column != "":
		field = fmt.Sprintf("rows[%d].%s", p.Row, p.Column)
	case p.Row > 0:
		field = fmt.Sprintf("rows[%d]", p.Row)
	case p.Column != "":
		field = p.Column
	}
	if p.Sheet != "" {
		field = p.Sheet + "!" + field
	}
	msg := p.Reason
	if p.Value != "" {
		msg = fmt.Sprintf("%q: %s", ClipValue(p.Value), p.Reason)
	}
	return FieldError{Field: field, Message: msg}
}

// String renders the problem for people: "row 12, amount "1.005": has 3
// decimal places; this measure keeps 2".
func (p ImportProblem) String() string {
	var s string
	if p.Sheet != "" {
		s = "sheet " + p.Sheet + ", "
	}
	if p.Row > 0 {
		s += fmt.Sprintf("row %d", p.Row)
	} else {
		s += "file"
	}
	if p.Column != "" {
		s += ", " + p.Column
	}
	if p.Value != "" {
		s += fmt.Sprintf(" %q", ClipValue(p.Value))
	}
	return s + ": " + p.Reason
}

// ActualFilter selects actuals to read. Every unit's amounts are the exact
// sum of the actuals at the leaves of its subtree.
type ActualFilter struct {
	OrgUnitID      *int64
	Subtree        bool // the unit and each of its descendants, each rolled up
	ProductLineIDs []int64
	MeasureIDs     []int64
	// MonthFrom and MonthTo ("YYYY-MM", inclusive) bound the months; empty
	// means unbounded.
	MonthFrom, MonthTo string
	Page               PageRequest
}

// ActualRow is one org unit's actuals for one product line and measure: the
// months that hold any, ascending, and their total. For a unit that is not a
// leaf they are the sums over its subtree.
type ActualRow struct {
	OrgUnitID       int64
	OrgUnitCode     string
	ProductLineID   int64
	ProductLineCode string
	MeasureID       int64
	MeasureCode     string
	Scale           int32
	Months          []MonthAmount
	Total           decimal.Decimal
}

// MonthAmount is the amount of one calendar month.
type MonthAmount struct {
	Month  string
	Amount decimal.Decimal
}

// ActualService imports and reads actuals.
type ActualService interface {
	// FindActuals returns a page of rolled-up actuals ordered by org unit
	// path, product line code and measure code. Reads apply the actor's org
	// scope; a unit outside it is ENOTFOUND.
	FindActuals(ctx context.Context, filter ActualFilter) ([]ActualRow, string, error)
	// ImportActuals checks every row of an import and, unless it is a dry
	// run or any row is bad, replaces in one transaction the actuals of
	// each (org unit, measure, month) the file names with the file's rows,
	// and records the import in the audit trail. Only the strategy office
	// and administrators import (EFORBIDDEN). A refused import returns the
	// report with every problem and an EINVALID error; a dry run returns
	// the report and no error. ETOOLARGE beyond MaxImportRows.
	ImportActuals(ctx context.Context, imp ActualImport) (*ActualImportReport, error)
}

// CanImportActuals reports whether the actor may import actuals: the
// strategy office and administrators, who run the assessment.
func (a *Actor) CanImportActuals() bool { return a.HasRole(RoleStrategyOffice, RoleAdmin) }

// ParseMonth checks a calendar month "YYYY-MM" (years 1900-2999) and returns
// it unchanged.
func ParseMonth(s string) (string, error) {
	if len(s) != 7 || s[4] != '-' || !allDigits(s[:4]) || !allDigits(s[5:]) {
		return "", fmt.Errorf("must be a month \"YYYY-MM\"")
	}
	y, _ := strconv.Atoi(s[:4])
	m, _ := strconv.Atoi(s[5:])
	if m < 1 || m > 12 || y < 1900 || y > 2999 {
		return "", fmt.Errorf("must be a month \"YYYY-MM\" with a month 01-12 of a year 1900-2999")
	}
	return s, nil
}
