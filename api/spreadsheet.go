package api

import (
	"archive/zip"
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/shopspring/decimal"

	"github.com/cascade-planning/cascade/planning"
	"github.com/cascade-planning/cascade/spreadsheet"
)

// Media types of the files the API writes.
const (
	mimeXLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	mimeCSV  = "text/csv; charset=utf-8"
)

// MaxExportRows is the most grid rows one export writes; narrow the filters
// for more. A workbook brought back may list no more.
const MaxExportRows = spreadsheet.MaxExportedRows

// sendFile answers with a file to download.
func sendFile(c echo.Context, mediaType, filename string, revision int64, body []byte) error {
	h := c.Response().Header()
	h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", filename))
	setETag(c, revision)
	return c.Blob(http.StatusOK, mediaType, body)
}

// fileSafe keeps the characters of s that are safe in a file name.
func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, s)
}

// exportVersion godoc
//
//	@Summary		Export a grid view to XLSX or CSV
//	@ID				exportVersion
//	@Description	The target grid of the version, with the grid's filters and grain, as a file. XLSX is made for people: a sheet per measure with the round, version (and its revision) and export time on top; org units indented by level; months as columns with quarter and year totals (formulas); frozen headings; numbers formatted at the measure's scale; and a hidden sheet with the ids and the exact amounts exported, so a workbook exported by month can be edited and imported back (POST /versions/{id}/imports). CSV is for machines: a header row, then one row per org unit, product line and measure with plain decimal amounts at the grain and the total. blank_rows=true adds a zero row for every org unit and product line of the view that has no targets yet, to plan them in the workbook. At most 100,000 rows. Scoped like the grid.
//	@Tags			spreadsheets
//	@Security		BearerAuth
//	@Produce		application/vnd.openxmlformats-officedocument.spreadsheetml.sheet
//	@Produce		text/csv
//	@Param			id				path		int			true	"Version id"
//	@Param			format			query		string		false	"xlsx (default) or csv"	Enums(xlsx,csv)
//	@Param			org_unit		query		string		false	"Org unit code: that unit only (or its subtree with subtree=true)"
//	@Param			subtree			query		bool		false	"Include the org unit's descendants"
//	@Param			product_line	query		string		false	"Product line codes, comma-separated"
//	@Param			measure			query		string		false	"Measure codes, comma-separated"
//	@Param			period			query		string		false	"A month 2027-04, a range 2027-04..2027-09, or a quarter Q1-Q4"
//	@Param			grain			query		string		false	"month (default), quarter or year"	Enums(month,quarter,year)
//	@Param			blank_rows		query		bool		false	"Add zero rows for the view's org units and product lines without targets"
//	@Success		200				{file}		file		"The workbook or CSV file"
//	@Header			200				{string}	ETag		"The version's revision"
//	@Failure		400				{object}	api.Problem	"Bad query parameter"
//	@Failure		404				{object}	api.Problem	"No such version, or org unit outside your scope"
//	@Failure		413				{object}	api.Problem	"More than 100,000 rows"
//	@Router			/versions/{id}/export [get]
func (s *Server) exportVersion(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	q := newQuery(c, "format", "org_unit", "subtree", "product_line", "measure", "period", "grain", "blank_rows")
	format := q.str("format")
	if format == "" {
		format = spreadsheet.FormatXLSX
	}
	if format != spreadsheet.FormatXLSX && format != spreadsheet.FormatCSV {
		q.fail("format", "must be xlsx or csv")
	}
	f := planning.GridFilter{VersionID: id, Grain: planning.Grain(q.str("grain"))}
	if f.Grain == "" {
		f.Grain = planning.GrainMonth
	}
	if f.Grain != planning.GrainMonth && f.Grain != planning.GrainQuarter && f.Grain != planning.GrainYear {
		q.fail("grain", "must be month, quarter or year")
	}
	res := newVersionResolver(ctx, s.svcs, id)
	f.OrgUnitID, f.Subtree, f.ProductLineIDs, f.MeasureIDs, f.PeriodFrom, f.PeriodTo, err = s.gridFilters(q, res)
	if err != nil {
		return err
	}
	v, r := res.version, res.round
	blankRows := q.boolean("blank_rows")
	if err := q.err(); err != nil {
		return err
	}
	view := &spreadsheet.GridView{Round: r, Version: v, Grain: f.Grain, From: max(f.PeriodFrom, 1), To: f.PeriodTo,
		ExportedAt: time.Now().UTC(), Units: map[int64]*planning.OrgUnit{}}
	if view.To == 0 {
		view.To = 12
	}
	if a := planning.ActorFromContext(ctx); a != nil && a.User != nil {
		view.ExportedBy = a.User.Name
	}
	measureIDs := f.MeasureIDs
	if len(measureIDs) == 0 {
		measureIDs = r.MeasureIDs
	}
	if err := res.loadIDs(nil, nil, measureIDs); err != nil {
		return err
	}
	req := planning.GridExportRequest{Filter: f, MaxRows: MaxExportRows, BlankRows: blankRows != nil && *blankRows,
		MeasureIDs: measureIDs, Periods: view.PeriodLabels()}
	for _, id := range measureIDs {
		if m := res.measureOf(id); m != nil {
			view.Measures = append(view.Measures, m)
			// The quarter subtotals of rates, levels and ratings follow
			// their aggregation rule, as the target grid rolls them up.
			if !m.IsSum() && f.Grain == planning.GrainMonth && format == spreadsheet.FormatXLSX {
				req.RollupMeasureIDs = append(req.RollupMeasureIDs, m.ID)
			}
		}
	}
	got, err := planning.ReadGridExport(ctx, s.svcs, req)
	if err != nil {
		return err
	}
	rows := got.Rows
	if g := got.Combinations; g != nil {
		for _, u := range g.Units {
			res.units[u.Code], res.unitIDs[u.ID] = u, u
		}
		if err := res.loadIDs(unitIDsOf(rows), nil, nil); err != nil {
			return err
		}
		rows = planning.FillBlankRows(rows, *g, res.unitPath)
	}
	if err := res.loadIDs(unitIDsOf(rows), nil, nil); err != nil {
		return err
	}
	view.Units, view.Rows = res.unitIDs, rows
	if len(req.RollupMeasureIDs) > 0 {
		view.Rollups = make(map[[3]int64]planning.GridRow, len(got.Rollups))
		for _, q := range got.Rollups {
			view.Rollups[[3]int64{q.OrgUnitID, q.ProductLineID, q.MeasureID}] = q
		}
	}
	var buf bytes.Buffer
	name := fmt.Sprintf("cascade-%s-v%d-targets", fileSafe(r.Code), v.Number)
	if format == spreadsheet.FormatCSV {
		if err := spreadsheet.WriteGridCSV(&buf, view); err != nil {
			return err
		}
		return sendFile(c, mimeCSV, name+".csv", v.Revision, buf.Bytes())
	}
	if err := spreadsheet.WriteGridXLSX(&buf, view); err != nil {
		return err
	}
	return sendFile(c, mimeXLSX, name+".xlsx", v.Revision, buf.Bytes())
}

// unitIDsOf returns the org unit ids of rows.
func unitIDsOf(rows []planning.GridRow) []int64 {
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.OrgUnitID
	}
	return ids
}

// getLetter godoc
//
//	@Summary		Download an org unit's target letter
//	@ID				getLetter
//	@Description	The target letter (目标责任书) of an org unit as XLSX (the default) or, with format=pdf, as a printable A4 PDF: the unit's own targets in the version by product line and month, with quarter and year totals, for every measure of the round, and the approval record — who approved the budget of record and when, who froze it and when. The PDF adds cover text, the scorecard of the unit's level (when the round has one) and signature blocks for the issuer and the recipient; Chinese is set in an embedded font, times in the server's time zone. The version must be its round's budget of record (409 otherwise). A branch manager downloads their branch's and teams' letters; units outside your scope are 404.
//	@Tags			spreadsheets
//	@Security		BearerAuth
//	@Produce		application/vnd.openxmlformats-officedocument.spreadsheetml.sheet
//	@Produce		application/pdf
//	@Param			id			path		int			true	"Version id: the round's budget of record"
//	@Param			org_unit	path		string		true	"Org unit code"
//	@Param			format		query		string		false	"xlsx (default) or pdf"	Enums(xlsx,pdf)
//	@Success		200			{file}		file		"The letter"
//	@Header			200			{string}	ETag		"The version's revision"
//	@Failure		400			{object}	api.Problem	"Bad id or query parameter"
//	@Failure		404			{object}	api.Problem	"No such version, or org unit unknown or outside your scope"
//	@Failure		409			{object}	api.Problem	"The version is not the budget of record"
//	@Router			/versions/{id}/letters/{org_unit} [get]
func (s *Server) getLetter(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	q := newQuery(c, "format")
	format := q.str("format")
	if format != "" && format != "xlsx" && format != "pdf" {
		q.fail("format", "must be xlsx or pdf")
	}
	if err := q.err(); err != nil {
		return err
	}
	var body []byte
	var name string
	v, _, err := s.svcs.Letters.WriteLetters(c.Request().Context(), planning.LetterRequest{VersionID: id, OrgUnit: c.Param("org_unit"), Format: format, MaxRows: MaxExportRows},
		func(l *planning.Letter) (err error) {
			body, name, err = s.writeLetter(c, l, format)
			return err
		})
	if err != nil {
		return err
	}
	media := mimeXLSX
	if format == "pdf" {
		media = "application/pdf"
	}
	return sendFile(c, media, name, v.Revision, body)
}

// writeLetter writes one unit's target letter, as XLSX or (format "pdf")
// PDF, and names its file.
func (s *Server) writeLetter(c echo.Context, pl *planning.Letter, format string) ([]byte, string, error) {
	l := &spreadsheet.Letter{Unit: pl.Unit, Round: pl.Round, Version: pl.Version, Approval: pl.Record, Measures: pl.Measures, Lines: pl.Lines, Rows: pl.Rows,
		Rollups: pl.Rollups, Scorecard: pl.Scorecard, IssuedAt: time.Now().UTC(), Location: s.cfg.TimeZone}
	if a := planning.ActorFromContext(c.Request().Context()); a != nil && a.User != nil {
		l.IssuedTo = a.User.Name
	}
	var buf bytes.Buffer
	base := fmt.Sprintf("target-letter-%s-%s", fileSafe(pl.Round.Code), fileSafe(pl.Unit.Code))
	if format == "pdf" {
		if err := spreadsheet.WriteLetterPDF(&buf, l); err != nil {
			return nil, "", err
		}
		return buf.Bytes(), base + ".pdf", nil
	}
	if err := spreadsheet.WriteLetter(&buf, l); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), base + ".xlsx", nil
}

// TargetCellChange is one cell an imported workbook changes: where it is in
// the workbook, its key, and its amount as exported, as it is in the
// version now, and as the workbook holds it.
type TargetCellChange struct {
	Sheet       string `json:"sheet" example:"revenue"`
	Cell        string `json:"cell" example:"E7"`
	OrgUnit     string `json:"org_unit" example:"B-SH-KA"`
	ProductLine string `json:"product_line" example:"POS"`
	Measure     string `json:"measure" example:"revenue"`
	Period      string `json:"period" example:"2027-05"`
	Exported    string `json:"exported" example:"100000.00"`
	Current     string `json:"current" example:"100000.00"`
	Value       string `json:"value" example:"120000.00"`
}

// TargetImportReport says what importing a workbook did, or would do.
type TargetImportReport struct {
	VersionID int64 `json:"version_id" example:"2"`
	// ExportedVersionID and ExportedRevision are the version and revision
	// the workbook was exported from.
	ExportedVersionID int64 `json:"exported_version_id" example:"2"`
	ExportedRevision  int64 `json:"exported_revision" example:"14"`
	// Revision is the version's revision now (after the write).
	Revision int64 `json:"revision" example:"15"`
	DryRun   bool  `json:"dry_run"`
	Written  bool  `json:"written"`
	// ChangedCells counts the cells written (or to be written).
	ChangedCells int                `json:"changed_cells" example:"3"`
	Changes      []TargetCellChange `json:"changes"`
	// Conflicts are cells the workbook changes that someone else changed
	// since the export; any refuses the import.
	Conflicts []TargetCellChange `json:"conflicts"`
	Problems  []ImportProblem    `json:"problems"`
	// Inconsistencies are where, after the import (or the import a dry
	// run tried), the changed cells leave children not adding up to their
	// parent: each changed cell with its own children, and with its
	// siblings under its parent. Cells are imported as the workbook holds
	// them, never spread down or summed up; empty means every parent the
	// workbook touched still adds up. GET /versions/{id}/consistency lists
	// the whole version's.
	Inconsistencies []Inconsistency `json:"inconsistencies"`
}

// TargetImportRefused is the 409 or 422 answer to a refused workbook: a
// problem document with the full report as the extension member "report".
type TargetImportRefused struct {
	Problem
	// Report is present when the file could be read.
	Report *TargetImportReport `json:"report,omitempty"`
}

func (s *Server) fromDomainTargetImport(res *resolver, r *planning.Round, x *planning.TargetImportResult) (TargetImportReport, error) {
	out := TargetImportReport{VersionID: x.VersionID, ExportedVersionID: x.ExportedVersionID, ExportedRevision: x.ExportedRevision,
		DryRun: x.DryRun, Written: x.Written, ChangedCells: len(x.Changes), Problems: fromDomainProblems(x.Problems)}
	if x.Version != nil {
		out.Revision = x.Version.Revision
	}
	var units, lines, measures []int64
	for _, c := range append(slices.Clone(x.Changes), x.Conflicts...) {
		units, lines, measures = append(units, c.OrgUnitID), append(lines, c.ProductLineID), append(measures, c.MeasureID)
	}
	for _, c := range x.Inconsistencies {
		units, lines, measures = append(units, c.ParentID), append(lines, c.ProductLineID), append(measures, c.MeasureID)
	}
	if err := res.loadIDs(units, lines, measures); err != nil {
		return out, err
	}
	conv := func(cs []planning.TargetCellChange) []TargetCellChange {
		out := make([]TargetCellChange, len(cs))
		for i, c := range cs {
			scale := int32(0)
			if m := res.measureOf(c.MeasureID); m != nil {
				scale = m.Scale
			}
			f := func(d decimal.Decimal) string { return planning.FormatAmount(d, scale) }
			out[i] = TargetCellChange{Sheet: c.Sheet, Cell: c.Ref, OrgUnit: res.unitCode(c.OrgUnitID), ProductLine: res.lineCode(c.ProductLineID),
				Period: r.MonthLabel(c.Period), Exported: f(c.Exported), Current: f(c.Current), Value: f(c.Value)}
			if m := res.measureOf(c.MeasureID); m != nil {
				out[i].Measure = m.Code
			}
		}
		return out
	}
	out.Changes, out.Conflicts = conv(x.Changes), conv(x.Conflicts)
	out.Inconsistencies = make([]Inconsistency, 0, len(x.Inconsistencies))
	for _, i := range x.Inconsistencies {
		scale, code := int32(0), ""
		if m := res.measureOf(i.MeasureID); m != nil {
			scale, code = m.Scale, m.Code
		}
		out.Inconsistencies = append(out.Inconsistencies, Inconsistency{ParentID: i.ParentID, Parent: res.unitCode(i.ParentID),
			ProductLine: res.lineCode(i.ProductLineID), Measure: code, Period: r.MonthLabel(i.Period), Expected: planning.FormatAmount(i.Expected, scale),
			ChildrenSum: planning.FormatAmount(i.ChildrenSum, scale), Difference: planning.FormatAmount(i.Difference, scale)})
	}
	return out, nil
}

// importTargets godoc
//
//	@Summary		Import an edited target workbook
//	@ID				importTargets
//	@Description	Brings back a workbook exported with GET /versions/{id}/export (format xlsx, grain month) after people edited it, into this working version of the same round (the exported version or a later one). Only the cells whose amount in the workbook differs from the amount exported are written, as one batch edit with the usual rules: product managers write their own product lines, the strategy office and admins any; the version must be working and the round under way; amounts at the measure's scale; at most 10,000 changed cells. Rows are found by their org unit and product line codes, months by their headings, so sorting and notes do no harm; rows cannot be added.
//	@Description	Lost updates are refused by a three-way merge: a changed cell whose amount in the version now differs from the amount exported was changed by someone else too; any such conflict refuses the import (409) and lists every conflicting cell with its exported, current and workbook amounts. Cells others changed that the workbook leaves as exported are not conflicts and keep the others' amounts. dry_run=true runs the same write with every rule inside a savepoint it rolls back, so it refuses exactly what the import would refuse, and reports the changes, conflicts and inconsistencies; it writes nothing.
//	@Description	A month cell is a number (typed, or a formula's computed value) or blank (zero); text, TRUE/FALSE, error values, formulas never computed and numbers beyond a double are problems naming the sheet and cell (422). Cells are written as the workbook holds them, never spread to children or summed into parents; inconsistencies lists each group the changed cells take part in (the cell with its children, and with its siblings under its parent) that no longer adds up, as GET /versions/{id}/consistency reports it.
//	@Description	Reading is bounded whatever the file unpacks to: only the parts needed are unpacked, each at most 256 MiB (512 MiB in all), at most 1,000 archive entries, 500,000 shared strings of 16 MiB in all, 32,767 characters per cell, values in at most 256 columns and 3,000,000 cells per sheet. Beyond any of them: 413, whose detail and errors[0] name the limit. At most two uploads are read at once per server; another waits up to 2 s, then gets 503 with Retry-After.
//	@Tags			spreadsheets
//	@Security		BearerAuth
//	@Accept			multipart/form-data
//	@Produce		json
//	@Param			id		path		int		true	"Version id to import into"
//	@Param			file	formData	file	true	"The edited XLSX workbook"
//	@Param			dry_run	formData	bool	false	"Report, change nothing (also accepted as a query parameter)"
//	@Success		200		{object}	api.TargetImportReport
//	@Failure		400		{object}	api.Problem				"Malformed upload"
//	@Failure		403		{object}	api.Problem				"Not your product line, or role may not edit targets"
//	@Failure		404		{object}	api.Problem				"No such version"
//	@Failure		409		{object}	api.TargetImportRefused	"Conflicting cells, or the version is frozen or its round not under way"
//	@Failure		413		{object}	api.Problem				"File too large, more than 10,000 changed cells, or beyond a reading limit (named in detail and errors[0])"
//	@Failure		415		{object}	api.Problem				"Not multipart/form-data"
//	@Failure		422		{object}	api.TargetImportRefused	"Problems with the workbook (cells that are not numbers, by sheet and cell), or a rule the changes break; nothing imported"
//	@Failure		429		{object}	api.Problem				"Too many requests for this token (Retry-After)"
//	@Failure		503		{object}	api.Problem				"Two uploads are being read already (Retry-After)"
//	@Header			503		{integer}	Retry-After				"Seconds to wait before sending the file again"
//	@Router			/versions/{id}/imports [post]
func (s *Server) importTargets(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	q := newQuery(c, "dry_run")
	if err := q.err(); err != nil {
		return err
	}
	ctx := c.Request().Context()
	a, err := planning.RequireActor(ctx)
	if err != nil {
		return err
	}
	if err := a.MayEditTargets(); err != nil {
		return err
	}
	_, r, err := s.versionRound(c, id)
	if err != nil {
		return err
	}
	up, err := readUpload(c, "dry_run")
	if err != nil {
		return err
	}
	dry, err := up.dryRun(q)
	if err != nil {
		return err
	}
	if format, ferr := spreadsheet.DetectFormat(up.name, up.data); ferr != nil || format != spreadsheet.FormatXLSX {
		return invalid("file", "must be an XLSX workbook exported by Cascade (GET /versions/{id}/export?format=xlsx)")
	}
	sheet, err := spreadsheet.ReadTargetSheet(up.data)
	if err != nil {
		if err := fileLimitError(err); planning.ErrorCode(err) == planning.ETOOLARGE {
			return err
		}
		return invalid("file", "%s", err)
	}
	result, err := planning.ImportTargetSheet(ctx, s.svcs, id, sheet, dry)
	if result != nil && err != nil {
		code := planning.ErrorCode(err)
		if code == planning.EINVALID || code == planning.ECONFLICT && len(result.Conflicts) > 0 {
			rep, rerr := s.fromDomainTargetImport(newResolver(ctx, s.svcs), r, result)
			if rerr != nil {
				return rerr
			}
			return s.writeProblemWith(c, err, "report", rep)
		}
	}
	if err != nil {
		return err
	}
	rep, err := s.fromDomainTargetImport(newResolver(ctx, s.svcs), r, result)
	if err != nil {
		return err
	}
	if result.Version != nil {
		setETag(c, result.Version.Revision)
	}
	return c.JSON(http.StatusOK, rep)
}

// LetterBatchRequest is the body of POST /versions/{id}/letter-batches.
type LetterBatchRequest struct {
	// Level, when set, issues the letters of that kind of unit only (e.g.
	// branch); otherwise every active unit's.
	Level  string `json:"level,omitempty" example:"branch"`
	Format string `json:"format" validate:"required" enums:"pdf,xlsx" example:"pdf"`
}

// issueLetters godoc
//
//	@Summary		Issue the target letters of a round as one ZIP
//	@ID				issueLetters
//	@Description	Writes the target letter of every active org unit (of one level, with level) from the budget of record, as PDF or XLSX, into one ZIP file, and records each letter as issued in the audit trail (action letter.issue, one event per unit). Needs the strategy_office or admin role; the version must be the budget of record (409 otherwise).
//	@Tags			spreadsheets
//	@Security		BearerAuth
//	@Accept			json
//	@Produce		application/zip
//	@Param			id		path		int						true	"Version id: the round's budget of record"
//	@Param			body	body		api.LetterBatchRequest	true	"Level and format"
//	@Success		200		{file}		file					"The letters"
//	@Header			200		{string}	ETag					"The version's revision"
//	@Failure		400		{object}	api.Problem				"Malformed body or id"
//	@Failure		401		{object}	api.Problem				"Not authenticated"
//	@Failure		403		{object}	api.Problem				"Not allowed to issue letters"
//	@Failure		404		{object}	api.Problem				"No such version"
//	@Failure		409		{object}	api.Problem				"The version is not the budget of record"
//	@Failure		413		{object}	api.Problem				"Body too large"
//	@Failure		422		{object}	api.Problem				"Unknown level or format"
//	@Router			/versions/{id}/letter-batches [post]
func (s *Server) issueLetters(c echo.Context) error {
	ctx := c.Request().Context()
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var req LetterBatchRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	v, r, err := s.svcs.Letters.WriteLetters(ctx, planning.LetterRequest{VersionID: id, Level: planning.OrgUnitKind(req.Level), Format: req.Format, MaxRows: MaxExportRows},
		func(l *planning.Letter) error {
			body, name, err := s.writeLetter(c, l, req.Format)
			if err != nil {
				return err
			}
			fw, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: time.Now()})
			if err != nil {
				return err
			}
			_, err = fw.Write(body)
			return err
		})
	if err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	level := req.Level
	name := fmt.Sprintf("target-letters-%s-v%d", fileSafe(r.Code), v.Number)
	if level != "" {
		name += "-" + string(level)
	}
	return sendFile(c, "application/zip", name+".zip", v.Revision, buf.Bytes())
}
