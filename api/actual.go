package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/cascade-planning/cascade/planning"
	"github.com/cascade-planning/cascade/spreadsheet"
)

// ActualImportReport says what an import of actuals did, or would do: every
// problem with the file, and how many actuals were added, changed, left
// unchanged and removed. An import replaces, for each org unit, measure and
// month in the file, the actuals stored with the file's rows, so importing
// the same file twice changes nothing the second time.
type ActualImportReport struct {
	// ImportID identifies the written import in the audit trail
	// (entity actual_import); null unless written.
	ImportID *int64 `json:"import_id"`
	DryRun   bool   `json:"dry_run"`
	// Written says the actuals were stored; false on a dry run and for a
	// file with problems.
	Written bool `json:"written"`
	// Valid says the file has no problem: a real import of it is written.
	Valid    bool   `json:"valid"`
	FileName string `json:"file_name" example:"actuals-2027-06.csv"`
	Format   string `json:"format" example:"csv" enums:"csv,xlsx"`
	// Rows counts the data rows read (blank rows are skipped).
	Rows      int `json:"rows" example:"360"`
	Added     int `json:"added" example:"300"`
	Changed   int `json:"changed" example:"12"`
	Unchanged int `json:"unchanged" example:"48"`
	Removed   int `json:"removed" example:"0"`
	// Months are the calendar months the file's good rows cover.
	Months   []string `json:"months" example:"2027-06"`
	OrgUnits int      `json:"org_units" example:"20"`
	// ProblemCount counts every problem; Problems lists at most 10,000.
	ProblemCount int             `json:"problem_count" example:"0"`
	Problems     []ImportProblem `json:"problems"`
}

// ActualImportRefused is the 422 answer to an import with bad rows: a
// problem document whose errors name each bad row and column, with the full
// report as the extension member "report".
type ActualImportRefused struct {
	Problem
	// Report is present when the file could be read.
	Report *ActualImportReport `json:"report,omitempty"`
}

func fromDomainImportReport(r *planning.ActualImportReport, name, format string) ActualImportReport {
	out := ActualImportReport{DryRun: r.DryRun, Written: r.Written, Valid: r.ProblemCount == 0, FileName: name, Format: format,
		Rows: r.Rows, Added: r.Added, Changed: r.Changed, Unchanged: r.Unchanged, Removed: r.Removed, Months: append([]string{}, r.Months...),
		OrgUnits: r.OrgUnits, ProblemCount: r.ProblemCount, Problems: fromDomainProblems(r.Problems)}
	if r.ImportID != 0 {
		out.ImportID = &r.ImportID
	}
	if out.Months == nil {
		out.Months = []string{}
	}
	return out
}

// importActuals godoc
//
//	@Summary		Import actuals from a CSV or XLSX file
//	@ID				importActuals
//	@Description	Reads actuals per (org unit code, product line code, measure code, month "YYYY-MM") → amount from the multipart part "file": CSV (UTF-8) or XLSX (the sheet "actuals", else the first), with a header row naming the columns org_unit, product_line, measure, month, amount in any order. Every row is checked: the org unit must be an active leaf of the org tree (a unit without children: actuals are stored at the leaves and roll up), the product line and measure must exist, the amount must be a plain decimal at the measure's scale, no row may repeat another's key, and with round the month must lie in its fiscal year and the measure be one of its measures.
//	@Description	A dry run (dry_run=true) reports every problem and what the import would change, and changes nothing. A real import with any bad row changes nothing either and answers 422 with every problem. Otherwise, in one transaction, the file's rows replace the actuals stored for each (org unit, measure, month) the file names: rows not in the file for those are removed; so importing the same file again changes nothing. Strategy office and admins. Files up to the bulk body limit (16 MiB by default; 413 beyond, before anything is read) and 500,000 rows.
//	@Description	Reading is bounded whatever the file unpacks to: only the parts needed are unpacked, each at most 256 MiB (512 MiB in all; the list of sheets and relationships 4 MiB), at most 1,000 archive entries, 500,000 shared strings of 16 MiB in all, 32,767 characters per cell or CSV field, 1 MiB per CSV record, values in at most 256 columns and 3,000,000 cells (rows × columns of the used range). Beyond any of them: 413, whose detail and errors[0] name the limit (e.g. max_cell_chars). TRUE/FALSE, error values and formulas never computed are problems naming their cell. At most two uploads are read at once per server; another waits up to 2 s, then gets 503 with Retry-After.
//	@Tags			actuals
//	@Security		BearerAuth
//	@Accept			multipart/form-data
//	@Produce		json
//	@Param			file	formData	file	true	"The CSV or XLSX file; the format is taken from the file name's extension, else from its content"
//	@Param			dry_run	formData	bool	false	"Check and report, change nothing (also accepted as a query parameter)"
//	@Param			round	formData	string	false	"Round code or id whose months and measures the rows must fit (also accepted as a query parameter)"
//	@Success		200		{object}	api.ActualImportReport
//	@Failure		400		{object}	api.Problem				"Malformed upload"
//	@Failure		403		{object}	api.Problem				"Only the strategy office and admins import actuals"
//	@Failure		413		{object}	api.Problem				"File too large, more than 500,000 rows, or beyond a reading limit (named in detail and errors[0])"
//	@Failure		415		{object}	api.Problem				"Not multipart/form-data"
//	@Failure		422		{object}	api.ActualImportRefused	"Bad rows, or a malformed workbook; nothing imported"
//	@Failure		429		{object}	api.Problem				"Too many requests for this token (Retry-After)"
//	@Failure		503		{object}	api.Problem				"Two uploads are being read already (Retry-After)"
//	@Header			503		{integer}	Retry-After				"Seconds to wait before sending the file again"
//	@Router			/actuals/imports [post]
func (s *Server) importActuals(c echo.Context) error {
	q := newQuery(c, "dry_run", "round")
	if err := q.err(); err != nil {
		return err
	}
	ctx := c.Request().Context()
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return err
	}
	if err := a.MayImportActuals(); err != nil {
		return err
	}
	up, err := readUpload(c, "dry_run", "round")
	if err != nil {
		return err
	}
	imp := planning.ActualImport{FileName: up.name, Checksum: up.checksum()}
	if imp.DryRun, err = up.dryRun(q); err != nil {
		return err
	}
	ref, err := up.option(q, "round")
	if err != nil {
		return err
	}
	if ref != "" {
		got, err := newResolver(ctx, s.svcs).load(planning.Refs{RoundCode: ref})
		if err != nil {
			return err
		}
		if got.Round == nil {
			return invalid("round", "no round with code or id %q", ref)
		}
		imp.RoundID = &got.Round.ID
	}
	if imp.Format, err = spreadsheet.DetectFormat(up.name, up.data); err != nil {
		return invalid("file", "%s", err)
	}
	file, err := spreadsheet.ReadActuals(up.data, imp.Format)
	if errors.Is(err, spreadsheet.ErrTooManyRows) {
		return planning.Errorf(planning.ETOOLARGE, "the file has more than %d data rows; import it in parts", planning.MaxImportRows)
	} else if err != nil {
		if err := fileLimitError(err); err != nil && planning.ErrorCode(err) == planning.ETOOLARGE {
			return err
		}
		return invalid("file", "%s", err)
	}
	imp.Rows, imp.ReadProblems = file.Rows, file.Problems
	rep, err := s.svcs.Actuals.ImportActuals(ctx, imp)
	if rep != nil && err != nil && planning.ErrorCode(err) == planning.EINVALID {
		return s.writeProblemWith(c, err, "report", fromDomainImportReport(rep, up.name, imp.Format))
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, fromDomainImportReport(rep, up.name, imp.Format))
}

// ActualRow is one org unit's actuals for one product line and measure: the
// months that hold any, and their total. A unit that is not a leaf shows the
// exact sums over its subtree.
type ActualRow struct {
	OrgUnitID     int64        `json:"org_unit_id" example:"4"`
	OrgUnit       string       `json:"org_unit" example:"B-SH"`
	ProductLineID int64        `json:"product_line_id" example:"2"`
	ProductLine   string       `json:"product_line" example:"POS"`
	MeasureID     int64        `json:"measure_id" example:"1"`
	Measure       string       `json:"measure" example:"revenue"`
	Months        []MonthValue `json:"months"`
	Total         string       `json:"total" example:"250000.00"`
}

// MonthValue is one calendar month's amount.
type MonthValue struct {
	Month  string `json:"month" example:"2027-06"`
	Amount string `json:"amount" example:"125000.00"`
}

// ActualPage is one page of actuals.
type ActualPage struct {
	Items      []ActualRow `json:"items"`
	NextCursor string      `json:"next_cursor,omitempty"`
}

// filterRefs names the codes of codeFilters' parameters.
func filterRefs(q *query) planning.Refs {
	refs := planning.Refs{LineCodes: codesList(q.str("product_line")), MeasureCodes: codesList(q.str("measure"))}
	if code, ok := q.get("org_unit"); ok {
		refs.UnitCodes = []string{code}
	}
	return refs
}

// codeFilters reads the org unit, product line and measure filters the
// actuals, the attainment and the exports share.
func (s *Server) codeFilters(q *query, res *resolver) (orgUnit *int64, subtree bool, lines, measures []int64, err error) {
	// Every code the filters name is looked up at once.
	code, hasUnit := q.get("org_unit")
	lineCodes, measureCodes := codesList(q.str("product_line")), codesList(q.str("measure"))
	if _, err = res.load(filterRefs(q)); err != nil {
		return
	}
	if hasUnit {
		u, found := res.units[code]
		if !found {
			return nil, false, nil, nil, planning.Errorf(planning.ENOTFOUND, "org unit %s not found", code)
		}
		orgUnit = &u.ID
	}
	if b := q.boolean("subtree"); b != nil {
		subtree = *b
	}
	if codes := lineCodes; len(codes) > 0 {
		for _, code := range codes {
			if l, found := res.lines[code]; found {
				lines = append(lines, l.ID)
			} else {
				q.fail("product_line", "no product line with code %q", code)
			}
		}
	}
	if codes := measureCodes; len(codes) > 0 {
		for _, code := range codes {
			if m, found := res.measures[code]; found {
				measures = append(measures, m.ID)
			} else {
				q.fail("measure", "no measure with code %q", code)
			}
		}
	}
	return orgUnit, subtree, lines, measures, nil
}

// listActuals godoc
//
//	@Summary		Read actuals
//	@ID				listActuals
//	@Description	Actuals by org unit, product line and measure, with the months that hold any. Actuals are stored at the leaves of the org tree; every other unit's amounts are the exact sums over its subtree. With org_unit the unit alone (rolled up), with subtree=true each unit of its subtree; without it every unit you may see. Branch managers and team leads see their subtree only.
//	@Tags			actuals
//	@Security		BearerAuth
//	@Produce		json
//	@Param			org_unit		query		string	false	"Org unit code"
//	@Param			subtree			query		bool	false	"Each unit of the org unit's subtree"
//	@Param			product_line	query		string	false	"Product line codes, comma-separated"
//	@Param			measure			query		string	false	"Measure codes, comma-separated"
//	@Param			period			query		string	false	"A month 2027-06 or a range 2027-04..2027-06"
//	@Param			limit			query		int		false	"Rows per page (1-1000, default 100)"
//	@Param			cursor			query		string	false	"next_cursor of the previous page"
//	@Success		200				{object}	api.ActualPage
//	@Failure		400				{object}	api.Problem	"Bad query parameter"
//	@Failure		404				{object}	api.Problem	"Org unit outside your scope"
//	@Router			/actuals [get]
func (s *Server) listActuals(c echo.Context) error {
	ctx := c.Request().Context()
	q := newQuery(c, "org_unit", "subtree", "product_line", "measure", "period")
	f := planning.ActualFilter{Page: q.page()}
	var err error
	f.OrgUnitID, f.Subtree, f.ProductLineIDs, f.MeasureIDs, err = s.codeFilters(q, newResolver(ctx, s.svcs))
	if err != nil {
		return err
	}
	if p := q.str("period"); p != "" {
		from, to, isRange := strings.Cut(p, "..")
		if !isRange {
			to = from
		}
		_, e1 := planning.ParseMonth(from)
		_, e2 := planning.ParseMonth(to)
		switch {
		case e1 != nil || e2 != nil:
			q.fail("period", "must be a month \"YYYY-MM\" or a range \"YYYY-MM..YYYY-MM\"")
		case from > to:
			q.fail("period", "the range ends before it starts")
		default:
			f.MonthFrom, f.MonthTo = from, to
		}
	}
	if err := q.err(); err != nil {
		return err
	}
	rows, next, err := s.svcs.Actuals.FindActuals(ctx, f)
	if err != nil {
		return err
	}
	page := ActualPage{Items: make([]ActualRow, 0, len(rows)), NextCursor: next}
	for _, r := range rows {
		row := ActualRow{OrgUnitID: r.OrgUnitID, OrgUnit: r.OrgUnitCode, ProductLineID: r.ProductLineID, ProductLine: r.ProductLineCode,
			MeasureID: r.MeasureID, Measure: r.MeasureCode, Total: planning.FormatAmount(r.Total, r.Scale), Months: make([]MonthValue, len(r.Months))}
		for i, m := range r.Months {
			row.Months[i] = MonthValue{Month: m.Month, Amount: planning.FormatAmount(m.Amount, r.Scale)}
		}
		page.Items = append(page.Items, row)
	}
	return c.JSON(http.StatusOK, page)
}
