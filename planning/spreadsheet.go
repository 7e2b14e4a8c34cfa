package planning

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// ApprovalRecord says how a version became its round's budget of record: who
// approved it and when, and who froze it and when. Documents such as a
// target letter print it.
type ApprovalRecord struct {
	VersionID int64
	RoundID   int64
	// Record says the version is the round's budget of record.
	Record         bool
	ApprovedBy     *int64
	ApprovedByName string
	ApprovedAt     *time.Time
	Comment        string
	FrozenBy       *int64
	FrozenByName   string
	FrozenAt       *time.Time
	// Steps are the actions of the approval chain that approved the
	// version, from its submission to the final approval.
	Steps []ApprovalRecordStep
	// Source names where the approval was read from: "approval_chain";
	// for rounds approved before the chain recorded its actions,
	// "round_transition" or "version_freeze".
	Source string
}

// ApprovalRecordStep is one action of the chain that approved a version.
type ApprovalRecordStep struct {
	Role      Role
	Action    string // submit or approve
	ActorID   int64
	ActorName string
	Comment   string
	At        time.Time
}

// ApprovalRecordService finds approval records. It is the one place
// documents read approvals from, so the source can change (from the round's
// move to approved, to the approval chain's final action) without them.
type ApprovalRecordService interface {
	// FindApprovalRecord returns the version's approval record; Record is
	// false when the version is not its round's budget of record.
	// Everybody signed in reads it; ENOTFOUND for an unknown version.
	FindApprovalRecord(ctx context.Context, versionID int64) (*ApprovalRecord, error)
	// RecordLettersIssued records in the audit trail that the target
	// letters of units were issued from a version in a format, one event
	// per unit. The strategy office and administrators issue letters
	// (EFORBIDDEN otherwise); the version must be the budget of record
	// (ECONFLICT).
	RecordLettersIssued(ctx context.Context, versionID int64, units []*OrgUnit, format string) error
}

// TargetSheetFormat names the layout of exported target workbooks that
// ImportTargetSheet reads back; it is written into the workbook's hidden
// sheet.
const TargetSheetFormat = "cascade-targets/1"

// TargetSheet is a target workbook read back after people edited it: the
// version and revision it was exported from, and for every exported row its
// cells as exported and as they are now.
type TargetSheet struct {
	VersionID  int64
	Revision   int64
	RoundID    int64
	ExportedAt time.Time
	Rows       []TargetSheetRow
	// Problems were found while reading the workbook (a missing hidden
	// sheet, text in a number cell, a row that was not exported); any of
	// them refuses the import.
	Problems []ImportProblem
}

// TargetSheetRow is one exported row: an org unit's cells for a product line
// and measure.
type TargetSheetRow struct {
	Sheet         string
	Row           int
	OrgUnitID     int64
	ProductLineID int64
	MeasureID     int64
	Scale         int32
	Cells         []TargetSheetCell
}

// TargetSheetCell is one month of a row: its cell reference ("E7"), the
// amount exported (zero for a cell that did not exist) and the amount the
// workbook holds now (zero for a blank cell).
type TargetSheetCell struct {
	Period   int
	Ref      string
	Exported decimal.Decimal
	Value    decimal.Decimal
}

// TargetCellChange is one cell a target workbook changes: where it is in the
// workbook, the amount exported, the amount in the version now and the
// amount in the workbook.
type TargetCellChange struct {
	CellKey
	Sheet    string
	Ref      string
	Exported decimal.Decimal
	Current  decimal.Decimal
	Value    decimal.Decimal
}

// TargetImportResult says what importing a target workbook did, or would do.
type TargetImportResult struct {
	VersionID         int64
	ExportedVersionID int64
	ExportedRevision  int64
	DryRun            bool
	Written           bool
	// Changes are the cells written (or to be written on a dry run).
	Changes []TargetCellChange
	// Conflicts are cells the workbook changes that someone else changed
	// since the export; any of them refuses the import.
	Conflicts []TargetCellChange
	Problems  []ImportProblem
	// Inconsistencies are where, after the import (or after the import a
	// dry run tried), the changed cells' children do not add up to them,
	// or they and their siblings do not add up to their parent.
	Inconsistencies []Inconsistency
	// Version is the version after the write (as it is, otherwise).
	Version *Version
}

// maxSheetAttempts is how often ImportTargetSheet reads and writes again
// when the version moves on between its read and its write.
const maxSheetAttempts = 3

// ImportTargetSheet writes back the cells of a target workbook that people
// changed, into versionID, a working version of the round the workbook was
// exported from (the exported version itself, or another one such as a copy
// made since).
//
// A cell counts as changed when the workbook's amount differs from the
// amount exported. The rule against lost updates is a three-way merge: a
// changed cell whose amount in the version now differs from the amount
// exported was changed by someone else too, and is a conflict; any conflict
// refuses the import (ECONFLICT) and the result lists every one. Cells that
// others changed but the workbook leaves as exported are not conflicts and
// keep the others' amounts, and a cell someone else already set to the
// workbook's amount is not written again.
//
// The changed cells are written as one batch through TargetService.WriteCells,
// so the usual scope, ownership, frozen-version and amount rules apply, all
// or nothing; more than MaxBatchCells changed cells is ETOOLARGE. A dry run
// goes the same way and has the write undone, so it refuses exactly what
// the import would refuse. The batch carries the revision the current
// amounts were read at, so a write between the read and the batch makes it
// read again rather than write over it. Problems with the workbook refuse
// the import with EINVALID and the result.
//
// Cells are written as the workbook holds them, never spread to children
// or summed into parents: a workbook that changes a parent without its
// children (or the reverse) is imported, and the result lists every
// inconsistency the changed cells take part in.
func ImportTargetSheet(ctx context.Context, svcs Services, versionID int64, sheet *TargetSheet, dryRun bool) (*TargetImportResult, error) {
	res := &TargetImportResult{VersionID: versionID, ExportedVersionID: sheet.VersionID, ExportedRevision: sheet.Revision, DryRun: dryRun}
	res.Problems = append(res.Problems, sheet.Problems...)
	v, err := svcs.Versions.FindVersionByID(ctx, versionID)
	if err != nil {
		return nil, err
	}
	res.Version = v
	if sheet.RoundID != v.RoundID {
		res.Problems = append(res.Problems, ImportProblem{Column: "version",
			Reason: fmt.Sprintf("the workbook was exported from a version of another round (round %d); version %d belongs to round %d", sheet.RoundID, v.ID, v.RoundID)})
	}
	var edited []TargetCellChange
	for _, row := range sheet.Rows {
		for _, c := range row.Cells {
			if c.Value.Equal(c.Exported) {
				continue
			}
			if c.Value.Exponent() < -row.Scale {
				res.Problems = append(res.Problems, ImportProblem{Sheet: row.Sheet, Row: row.Row, Column: c.Ref, Value: c.Value.String(),
					Reason: fmt.Sprintf("has more than %d decimal places", row.Scale)})
				continue
			}
			edited = append(edited, TargetCellChange{Sheet: row.Sheet, Ref: c.Ref, Exported: c.Exported, Value: c.Value,
				CellKey: CellKey{OrgUnitID: row.OrgUnitID, ProductLineID: row.ProductLineID, MeasureID: row.MeasureID, Period: c.Period}})
		}
	}
	if len(res.Problems) > 0 {
		return res, importProblemsError(res.Problems)
	}
	if len(edited) == 0 {
		return res, nil
	}
	if len(edited) > MaxBatchCells {
		return res, Errorf(ETOOLARGE, "the workbook changes %d cells; at most %d are imported at once: export and import smaller parts", len(edited), MaxBatchCells)
	}
	for attempt := 0; attempt < maxSheetAttempts; attempt++ {
		current, revision, err := readCurrentCells(ctx, svcs, versionID, edited)
		if err != nil {
			return nil, err
		}
		res.Changes, res.Conflicts = nil, nil
		var edits []CellEdit
		for _, e := range edited {
			e.Current = current[e.CellKey]
			switch {
			case e.Current.Equal(e.Value):
				// Someone else made the same change; nothing to write.
			case !e.Current.Equal(e.Exported):
				res.Conflicts = append(res.Conflicts, e)
			default:
				res.Changes = append(res.Changes, e)
				edits = append(edits, CellEdit{CellKey: e.CellKey, Amount: e.Value})
			}
		}
		if len(res.Conflicts) > 0 {
			return res, conflictsError(res.Conflicts)
		}
		if len(edits) == 0 {
			return res, nil
		}
		w, err := svcs.Targets.WriteCells(ctx, CellWrite{VersionID: versionID, Edits: edits, IfMatch: &revision, DryRun: dryRun})
		if ErrorCode(err) == EPRECONDITION {
			continue
		}
		if err != nil {
			return res, inWorkbook(err, res.Changes)
		}
		res.Inconsistencies = w.Inconsistencies
		if !dryRun {
			res.Version, res.Written = w.Version, true
		}
		return res, nil
	}
	return res, Errorf(ECONFLICT, "version %d kept changing while the workbook was imported; import it again", versionID)
}

// readCurrentCells reads the current amounts of the cells (zero for absent
// ones) and the version's revision they were read at: the revision is read
// before and after, and the read is repeated until both agree, so the
// amounts are those of that revision.
func readCurrentCells(ctx context.Context, svcs Services, versionID int64, cells []TargetCellChange) (map[CellKey]decimal.Decimal, int64, error) {
	want := map[CellKey]bool{}
	lineSet, measureSet := map[int64]bool{}, map[int64]bool{}
	var lines, measures []int64
	for _, c := range cells {
		want[c.CellKey] = true
		if !lineSet[c.ProductLineID] {
			lineSet[c.ProductLineID] = true
			lines = append(lines, c.ProductLineID)
		}
		if !measureSet[c.MeasureID] {
			measureSet[c.MeasureID] = true
			measures = append(measures, c.MeasureID)
		}
	}
	for attempt := 0; attempt < maxSheetAttempts; attempt++ {
		before, err := svcs.Versions.FindVersionByID(ctx, versionID)
		if err != nil {
			return nil, 0, err
		}
		out := map[CellKey]decimal.Decimal{}
		for r, err := range AllPages(func(page PageRequest) ([]GridRow, string, error) {
			return svcs.Targets.FindGrid(ctx, GridFilter{VersionID: versionID, ProductLineIDs: lines, MeasureIDs: measures, Page: page})
		}) {
			if err != nil {
				return nil, 0, err
			}
			for i, p := range r.Periods {
				k := CellKey{OrgUnitID: r.OrgUnitID, ProductLineID: r.ProductLineID, MeasureID: r.MeasureID, Period: i + 1}
				if want[k] {
					out[k] = p.Amount
				}
			}
		}
		after, err := svcs.Versions.FindVersionByID(ctx, versionID)
		if err != nil {
			return nil, 0, err
		}
		if before.Revision == after.Revision {
			return out, after.Revision, nil
		}
	}
	return nil, 0, Errorf(ECONFLICT, "version %d kept changing while the workbook was imported; import it again", versionID)
}

// inWorkbook renames the fields of an error about the batch ("cells[3]
// .amount") after the workbook cells they came from ("revenue!E7.amount").
func inWorkbook(err error, cells []TargetCellChange) error {
	var e *Error
	if !errors.As(err, &e) || len(e.Fields) == 0 {
		return err
	}
	out := &Error{Code: e.Code, Message: e.Message, Fields: make([]FieldError, len(e.Fields))}
	for i, f := range e.Fields {
		out.Fields[i] = f
		var n int
		if _, serr := fmt.Sscanf(f.Field, "cells[%d]", &n); serr == nil && n >= 0 && n < len(cells) {
			prefix := fmt.Sprintf("cells[%d]", n)
			out.Fields[i].Field = cells[n].Sheet + "!" + cells[n].Ref + strings.TrimPrefix(f.Field, prefix)
		}
	}
	if len(out.Fields) > 0 {
		out.Message = "the workbook's changes break a rule; nothing was imported: " + out.Fields[0].Field + ": " + out.Fields[0].Message
	}
	return out
}

func importProblemsError(ps []ImportProblem) error {
	fields := make([]FieldError, len(ps))
	for i, p := range ps {
		fields[i] = p.FieldError()
	}
	return &Error{Code: EINVALID, Message: fmt.Sprintf("the workbook has %d problem(s); nothing was imported. First: %s", len(ps), ps[0]), Fields: fields}
}

func conflictsError(cs []TargetCellChange) error {
	fields := make([]FieldError, len(cs))
	for i, c := range cs {
		fields[i] = FieldError{Field: c.Sheet + "!" + c.Ref,
			Message: fmt.Sprintf("exported %s, now %s, in the workbook %s", c.Exported, c.Current, c.Value)}
	}
	return &Error{Code: ECONFLICT, Fields: fields, Message: fmt.Sprintf(
		"%d cell(s) the workbook changes were changed by someone else since the export; nothing was imported: export again and redo those edits", len(cs))}
}
