package planning

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Refs names everything one request refers to, so that it is looked up
// once: a version (and with it its round), and the org units, product
// lines and measures a request names by code or a response labels by id.
// Zero fields name nothing.
type Refs struct {
	// CounterproposalID names a counterproposal; its version and round are
	// then the ones looked up (VersionID and RoundID are ignored).
	CounterproposalID int64
	VersionID         int64
	// RoundID names a round, when no version does.
	RoundID int64
	// RoundCode names a round by code or, when it is a positive number, by
	// id, when neither a version nor RoundID does. Unlike RoundID, a round
	// it does not name is simply absent (Resolved.Round is nil): the
	// caller reports it against the field that carried it.
	RoundCode string
	// RoundMeasures asks for the measures of the round found too.
	RoundMeasures                      bool
	UnitCodes, LineCodes, MeasureCodes []string
	UnitIDs, LineIDs, MeasureIDs       []int64
	// ProfileCodes and ProfileIDs name seasonality profiles; unlike the
	// others, an id that names no profile is ENOTFOUND (ids come from
	// stored requests, which name existing profiles).
	ProfileCodes []string
	ProfileIDs   []int64
}

// Resolved is what Refs named and the caller may see: the version and its
// round, and the org units (within the caller's scope), product lines and
// measures found. A code or id that names nothing is simply absent; the
// caller reports it against the field that carried it. A code that is not
// valid UTF-8, or holds a NUL, names nothing and is not sent to the
// database.
type Resolved struct {
	Counterproposal *Counterproposal
	Version         *Version
	Round           *Round
	Units           []*OrgUnit
	Lines           []*ProductLine
	Measures        []*Measure
	Profiles        []*SeasonalityProfile
}

// ResolveService looks up a request's references in one call.
type ResolveService interface {
	// Resolve loads what refs names: the version or the round first
	// (ENOTFOUND when there is none, and nothing else is looked up), then one query per
	// kind and per MaxPageSize codes or ids.
	Resolve(ctx context.Context, refs Refs) (*Resolved, error)
}

// NewResolveService answers Resolve through the finders of svcs, so the
// scope and visibility rules are theirs.
func NewResolveService(svcs Services) ResolveService { return resolveService{svcs} }

type resolveService struct{ svcs Services }

func (s resolveService) Resolve(ctx context.Context, refs Refs) (*Resolved, error) {
	out := &Resolved{}
	if refs.CounterproposalID != 0 {
		cp, err := s.svcs.Proposals.FindCounterproposalByID(ctx, refs.CounterproposalID)
		if err != nil {
			return nil, err
		}
		out.Counterproposal, refs.VersionID = cp, cp.VersionID
	}
	if refs.VersionID != 0 {
		v, err := s.svcs.Versions.FindVersionByID(ctx, refs.VersionID)
		if err != nil {
			return nil, err
		}
		r, err := s.svcs.Rounds.FindRoundByID(ctx, v.RoundID)
		if err != nil {
			return nil, err
		}
		out.Version, out.Round = v, r
	} else if refs.RoundID != 0 {
		r, err := s.svcs.Rounds.FindRoundByID(ctx, refs.RoundID)
		if err != nil {
			return nil, err
		}
		out.Round = r
	} else if refs.RoundCode != "" {
		r, err := s.roundByCode(ctx, refs.RoundCode)
		if err != nil {
			return nil, err
		}
		out.Round = r
	}
	if refs.RoundMeasures && out.Round != nil {
		refs.MeasureIDs = append(slices.Clone(refs.MeasureIDs), out.Round.MeasureIDs...)
	}
	page := PageRequest{Limit: MaxPageSize}
	for _, codes := range codeChunks(refs.UnitCodes) {
		us, _, err := s.svcs.OrgUnits.FindOrgUnits(ctx, OrgUnitFilter{Codes: codes, Page: page})
		if err != nil {
			return nil, err
		}
		out.Units = append(out.Units, us...)
	}
	for _, ids := range chunks(refs.UnitIDs) {
		us, _, err := s.svcs.OrgUnits.FindOrgUnits(ctx, OrgUnitFilter{IDs: ids, Page: page})
		if err != nil {
			return nil, err
		}
		out.Units = append(out.Units, us...)
	}
	for _, codes := range codeChunks(refs.LineCodes) {
		ls, _, err := s.svcs.ProductLines.FindProductLines(ctx, ProductLineFilter{Codes: codes, Page: page})
		if err != nil {
			return nil, err
		}
		out.Lines = append(out.Lines, ls...)
	}
	for _, ids := range chunks(refs.LineIDs) {
		ls, _, err := s.svcs.ProductLines.FindProductLines(ctx, ProductLineFilter{IDs: ids, Page: page})
		if err != nil {
			return nil, err
		}
		out.Lines = append(out.Lines, ls...)
	}
	for _, codes := range codeChunks(refs.MeasureCodes) {
		ms, _, err := s.svcs.Measures.FindMeasures(ctx, MeasureFilter{Codes: codes, Page: page})
		if err != nil {
			return nil, err
		}
		out.Measures = append(out.Measures, ms...)
	}
	for _, ids := range chunks(refs.MeasureIDs) {
		ms, _, err := s.svcs.Measures.FindMeasures(ctx, MeasureFilter{IDs: ids, Page: page})
		if err != nil {
			return nil, err
		}
		out.Measures = append(out.Measures, ms...)
	}
	for _, codes := range codeChunks(refs.ProfileCodes) {
		for _, code := range codes {
			ps, _, err := s.svcs.Seasonality.FindSeasonalityProfiles(ctx, SeasonalityProfileFilter{Code: code})
			if err != nil {
				return nil, err
			}
			out.Profiles = append(out.Profiles, ps...)
		}
	}
	for _, ids := range chunks(refs.ProfileIDs) {
		for _, id := range ids {
			p, err := s.svcs.Seasonality.FindSeasonalityProfileByID(ctx, id)
			if err != nil {
				return nil, err
			}
			out.Profiles = append(out.Profiles, p)
		}
	}
	return out, nil
}

// roundByCode is the round code names (or, for a positive number, the
// round of that id), or nil.
func (s resolveService) roundByCode(ctx context.Context, code string) (*Round, error) {
	if id, err := strconv.ParseInt(code, 10, 64); err == nil && id > 0 {
		r, err := s.svcs.Rounds.FindRoundByID(ctx, id)
		if ErrorCode(err) == ENOTFOUND {
			return nil, nil
		}
		return r, err
	}
	for r, err := range AllPages(func(page PageRequest) ([]*Round, string, error) {
		return s.svcs.Rounds.FindRounds(ctx, RoundFilter{Page: page})
	}) {
		if err != nil || r.Code == code {
			return r, err
		}
	}
	return nil, nil
}

// codeChunks is chunks of the codes that could name something.
func codeChunks(codes []string) [][]string {
	return chunks(slices.DeleteFunc(slices.Clone(codes), func(c string) bool {
		return c == "" || !utf8.ValidString(c) || strings.IndexByte(c, 0) >= 0
	}))
}

// chunks sorts and de-duplicates xs and cuts it into pieces of at most
// MaxPageSize, what one finder query may name.
func chunks[T int64 | string](xs []T) [][]T {
	xs = slices.Compact(slices.Sorted(slices.Values(xs)))
	var out [][]T
	for len(xs) > 0 {
		n := min(len(xs), MaxPageSize)
		out = append(out, xs[:n])
		xs = xs[n:]
	}
	return out
}
