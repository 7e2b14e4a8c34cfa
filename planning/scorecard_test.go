package planning_test

import (
	"testing"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"

	"github.com/cascade-planning/cascade/planning"
)

func linear(floor, cap string) planning.Curve {
	return planning.Curve{Kind: planning.CurveLinear, FloorPct: d(floor), CapPct: d(cap)}
}

// branchScorecard is the deck's branch general manager: the branch's sales,
// its key products, gross margin, sales expense (lower is better) and
// receivables collected.
func branchScorecard() *planning.Scorecard {
	return &planning.Scorecard{Level: planning.KindBranch, Name: "Branch general manager",
		Rounding: planning.Rounding{Places: 2, Mode: planning.RoundHalfUp},
		KPIs: []planning.KPI{
			{MeasureID: 1, Label: "Sales revenue", Weight: d("40"), Direction: planning.HigherIsBetter, Curve: linear("60", "120")},
			{MeasureID: 1, ProductLineIDs: []int64{2}, Label: "Key products", Weight: d("15"), Direction: planning.HigherIsBetter, Curve: linear("50", "150")},
			{MeasureID: 2, Label: "Gross margin", Weight: d("20"), Direction: planning.HigherIsBetter, Curve: linear("0", "100")},
			{MeasureID: 3, Label: "Sales expense", Weight: d("10"), Direction: planning.LowerIsBetter, Curve: linear("0", "110")},
			{MeasureID: 5, Label: "Collections", Weight: d("15"), Direction: planning.HigherIsBetter, Curve: planning.Curve{Kind: planning.CurveSteps,
				Steps: []planning.Step{{MinPct: d("80"), Points: d("60")}, {MinPct: d("95"), Points: d("90")}, {MinPct: d("100"), Points: d("100")}, {MinPct: d("110"), Points: d("110")}}}},
		}}
}

// TestScorecardHandComputed scores a branch by hand:
//
//	revenue   target 1,000,000.00 actual 1,050,000.00 → 105.00% → 105 points × 40% = 42.00
//	key POS   target   200,000.00 actual   130,000.00 →  65.00% →  65 points × 15% =  9.75
//	margin    target   180,000.00 actual   190,000.00 → 105.56% → 100 (cap) × 20% = 20.00
//	expense   target    50,000.00 actual    45,000.00 → (100000−45000)/50000 = 110.00% → 110 × 10% = 11.00
//	collected target   900,000.00 actual   850,000.00 →  94.44% → step 80% → 60 × 15% =  9.00
//	                                                                              total 91.75
func TestScorecardHandComputed(t *testing.T) {
	s := branchScorecard()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	sc := s.ScoreCard([]planning.KPIInput{
		{Target: d("1000000"), Actual: d("1050000"), Scale: 2},
		{Target: d("200000"), Actual: d("130000"), Scale: 2},
		{Target: d("180000"), Actual: d("190000"), Scale: 2},
		{Target: d("50000"), Actual: d("45000"), Scale: 2},
		{Target: d("900000"), Actual: d("850000"), Scale: 2},
	})
	wantPct := []string{"105", "65", "105.56", "110", "94.44"}
	wantPts := []string{"105", "65", "100", "110", "60"}
	wantW := []string{"42", "9.75", "20", "11", "9"}
	for i, k := range sc.KPIs {
		if !k.AttainmentPct.Equal(d(wantPct[i])) || !k.Points.Equal(d(wantPts[i])) || !k.Weighted.Equal(d(wantW[i])) {
			t.Errorf("KPI %d (%s): attainment %s points %s weighted %s, want %s %s %s", i, k.KPI.Label, k.AttainmentPct, k.Points, k.Weighted, wantPct[i], wantPts[i], wantW[i])
		}
	}
	if !sc.Total.Equal(d("91.75")) || !sc.Exact.Equal(d("91.75")) {
		t.Errorf("total %s (exact %s), want 91.75", sc.Total, sc.Exact)
	}
	// No target: no attainment and no points, but the KPI is still listed.
	sc = s.ScoreCard([]planning.KPIInput{{}, {}, {}, {}, {}})
	if sc.KPIs[0].AttainmentPct != nil || !sc.Total.IsZero() {
		t.Errorf("no targets scored %s", sc.Total)
	}
}

func TestScorecardValidate(t *testing.T) {
	cases := map[string]struct {
		edit  func(s *planning.Scorecard)
		field string
	}{
		"weights 99.99":      {func(s *planning.Scorecard) { s.KPIs[0].Weight = d("39.99") }, "kpis"},
		"weight 3 places":    {func(s *planning.Scorecard) { s.KPIs[0].Weight = d("39.995"); s.KPIs[1].Weight = d("15.005") }, "kpis[0].weight"},
		"zero weight":        {func(s *planning.Scorecard) { s.KPIs[0].Weight = d("0"); s.KPIs[1].Weight = d("55") }, "kpis[0].weight"},
		"direction":          {func(s *planning.Scorecard) { s.KPIs[3].Direction = "sideways" }, "kpis[3].direction"},
		"floor above 100":    {func(s *planning.Scorecard) { s.KPIs[0].Curve.FloorPct = d("101") }, "kpis[0].curve.floor_pct"},
		"cap below 100":      {func(s *planning.Scorecard) { s.KPIs[0].Curve.CapPct = d("99") }, "kpis[0].curve.cap_pct"},
		"steps not rising":   {func(s *planning.Scorecard) { s.KPIs[4].Curve.Steps[1].MinPct = d("80") }, "kpis[4].curve.steps[1].min_pct"},
		"points falling":     {func(s *planning.Scorecard) { s.KPIs[4].Curve.Steps[1].Points = d("50") }, "kpis[4].curve.steps[1].points"},
		"duplicate KPI":      {func(s *planning.Scorecard) { s.KPIs[1].ProductLineIDs = nil }, "kpis[1].measure"},
		"rounding places":    {func(s *planning.Scorecard) { s.Rounding.Places = 5 }, "rounding.places"},
		"rounding mode":      {func(s *planning.Scorecard) { s.Rounding.Mode = "up" }, "rounding.mode"},
		"level":              {func(s *planning.Scorecard) { s.Level = "galaxy" }, "level"},
		"no KPIs":            {func(s *planning.Scorecard) { s.KPIs = nil }, "kpis"},
		"unknown curve kind": {func(s *planning.Scorecard) { s.KPIs[0].Curve.Kind = "sigmoid" }, "kpis[0].curve.kind"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			s := branchScorecard()
			c.edit(s)
			err := s.Validate()
			var found bool
			if e, ok := err.(*planning.Error); ok {
				for _, fe := range e.Fields {
					found = found || fe.Field == c.field
				}
			}
			if !found {
				t.Fatalf("want an error on %s, got %v", c.field, err)
			}
		})
	}
}

// genScorecard draws a valid scorecard: weights of up to 2 places summing
// to exactly 100, both directions, both curve kinds.
func genScorecard(t *rapid.T) *planning.Scorecard {
	n := rapid.IntRange(1, 8).Draw(t, "kpis")
	// Cut 10000 hundredths into n positive parts.
	cuts := map[int]bool{}
	for len(cuts) < n-1 {
		cuts[rapid.IntRange(1, 9999).Draw(t, "cut")] = true
	}
	bounds := []int{0}
	for i := 1; i < 10000; i++ {
		if cuts[i] {
			bounds = append(bounds, i)
		}
	}
	bounds = append(bounds, 10000)
	s := &planning.Scorecard{Level: planning.KindBranch, Name: "generated",
		Rounding: planning.Rounding{Places: int32(rapid.IntRange(0, 4).Draw(t, "places")),
			Mode: rapid.SampledFrom([]planning.RoundingMode{planning.RoundHalfUp, planning.RoundHalfEven, planning.RoundDown}).Draw(t, "mode")}}
	for i := range n {
		k := planning.KPI{MeasureID: int64(i + 1), Weight: decimal.New(int64(bounds[i+1]-bounds[i]), -2),
			Direction: rapid.SampledFrom([]planning.Direction{planning.HigherIsBetter, planning.LowerIsBetter}).Draw(t, "dir")}
		if rapid.Bool().Draw(t, "linear") {
			k.Curve = planning.Curve{Kind: planning.CurveLinear, FloorPct: decimal.New(int64(rapid.IntRange(0, 10000).Draw(t, "floor")), -2),
				CapPct: decimal.New(int64(rapid.IntRange(10000, 100000).Draw(t, "cap")), -2)}
		} else {
			k.Curve.Kind = planning.CurveSteps
			minPct, pts := int64(0), int64(0)
			for range rapid.IntRange(1, 6).Draw(t, "steps") {
				minPct += int64(rapid.IntRange(1, 5000).Draw(t, "minstep"))
				pts += int64(rapid.IntRange(0, 5000).Draw(t, "ptsstep"))
				if minPct > 100000 || pts > 100000 {
					break
				}
				k.Curve.Steps = append(k.Curve.Steps, planning.Step{MinPct: decimal.New(minPct, -2), Points: decimal.New(pts, -2)})
			}
		}
		s.KPIs = append(s.KPIs, k)
	}
	return s
}

func genAmount(t *rapid.T, label string) decimal.Decimal {
	return decimal.New(rapid.Int64Range(0, 1e12).Draw(t, label), -2)
}

func TestScorecardProperties(t *testing.T) {
	t.Run("generated scorecards are valid: weights sum to exactly 100", rapid.MakeCheck(func(t *rapid.T) {
		s := genScorecard(t)
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
		sum := decimal.Zero
		for _, k := range s.KPIs {
			sum = sum.Add(k.Weight)
		}
		if !sum.Equal(d("100")) {
			t.Fatalf("weights sum to %s", sum)
		}
	}))
	t.Run("on target on every KPI scores exactly the curve's 100% point", rapid.MakeCheck(func(t *rapid.T) {
		s := genScorecard(t)
		in := make([]planning.KPIInput, len(s.KPIs))
		allLinear := true
		for i := range in {
			x := genAmount(t, "target")
			if x.IsZero() {
				x = d("0.01")
			}
			in[i] = planning.KPIInput{Target: x, Actual: x, Scale: 2}
			allLinear = allLinear && s.KPIs[i].Curve.Kind == planning.CurveLinear
		}
		sc := s.ScoreCard(in)
		if !sc.Total.Equal(s.OnTargetScore()) {
			t.Fatalf("on target scored %s, the curves' 100%% point is %s", sc.Total, s.OnTargetScore())
		}
		for i, k := range sc.KPIs {
			if !k.AttainmentPct.Equal(d("100")) || !k.Points.Equal(s.KPIs[i].Curve.Points(d("100"))) {
				t.Fatalf("KPI %d on target: attainment %s points %s", i, k.AttainmentPct, k.Points)
			}
		}
		if allLinear && !sc.Exact.Equal(d("100")) {
			t.Fatalf("linear curves on target scored %s, not exactly 100", sc.Exact)
		}
	}))
	t.Run("monotonic in each KPI in its direction", rapid.MakeCheck(func(t *rapid.T) {
		s := genScorecard(t)
		in := make([]planning.KPIInput, len(s.KPIs))
		for i := range in {
			in[i] = planning.KPIInput{Target: genAmount(t, "target"), Actual: genAmount(t, "actual"), Scale: 2}
		}
		i := rapid.IntRange(0, len(in)-1).Draw(t, "kpi")
		better := slicesClone(in)
		delta := decimal.New(rapid.Int64Range(1, 1e11).Draw(t, "delta"), -2)
		if s.KPIs[i].Direction == planning.HigherIsBetter {
			better[i].Actual = better[i].Actual.Add(delta)
		} else {
			better[i].Actual = better[i].Actual.Sub(delta)
		}
		a, b := s.ScoreCard(in), s.ScoreCard(better)
		if b.Exact.LessThan(a.Exact) || b.Total.LessThan(a.Total) || b.KPIs[i].Points.LessThan(a.KPIs[i].Points) {
			t.Fatalf("a better KPI %d lowered the score: %s → %s (exact %s → %s)", i, a.Total, b.Total, a.Exact, b.Exact)
		}
	}))
	t.Run("ranking is deterministic and total", rapid.MakeCheck(func(t *rapid.T) {
		s := genScorecard(t)
		n := rapid.IntRange(1, 12).Draw(t, "units")
		units := make([]planning.UnitScore, n)
		for u := range units {
			in := make([]planning.KPIInput, len(s.KPIs))
			for i := range in {
				in[i] = planning.KPIInput{Target: decimal.NewFromInt(100), Actual: decimal.NewFromInt(int64(rapid.IntRange(50, 150).Draw(t, "actual"))), Scale: 0}
			}
			units[u] = planning.UnitScore{OrgUnitCode: string(rune('A' + u)), Score: s.ScoreCard(in)}
		}
		rev := slicesClone(units)
		for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
			rev[i], rev[j] = rev[j], rev[i]
		}
		planning.RankScores(units)
		planning.RankScores(rev)
		for i := range units {
			if units[i].OrgUnitCode != rev[i].OrgUnitCode || units[i].Rank != rev[i].Rank {
				t.Fatalf("order depends on the input order at %d", i)
			}
			if i > 0 && (units[i].Total.GreaterThan(units[i-1].Total) || units[i].Rank < units[i-1].Rank) {
				t.Fatalf("not best first at %d", i)
			}
		}
		if units[0].Rank != 1 {
			t.Fatal("first place is not rank 1")
		}
	}))
}

func slicesClone[T any](s []T) []T { return append([]T(nil), s...) }

func TestRankScoresTieRule(t *testing.T) {
	s := &planning.Scorecard{Rounding: planning.Rounding{Places: 0, Mode: planning.RoundHalfUp}, KPIs: []planning.KPI{
		{Weight: d("50"), Direction: planning.HigherIsBetter, Curve: linear("0", "200")},
		{Weight: d("50"), Direction: planning.HigherIsBetter, Curve: linear("0", "200")},
	}}
	score := func(a, b int64) planning.Score {
		return s.ScoreCard([]planning.KPIInput{{Target: d("100"), Actual: decimal.NewFromInt(a)}, {Target: d("100"), Actual: decimal.NewFromInt(b)}})
	}
	units := []planning.UnitScore{
		{OrgUnitCode: "D", Score: score(90, 110)},  // 100 exact, first KPI 90
		{OrgUnitCode: "C", Score: score(110, 90)},  // 100 exact, first KPI 110
		{OrgUnitCode: "B", Score: score(100, 101)}, // 100.5 → 101 rounded
		{OrgUnitCode: "A", Score: score(110, 90)},  // same as C: shares its rank
		{OrgUnitCode: "E", Score: score(100, 100)}, // 100 exact, first KPI 100
	}
	planning.RankScores(units)
	var got []string
	for _, u := range units {
		got = append(got, u.OrgUnitCode+":"+decimal.NewFromInt(int64(u.Rank)).String())
	}
	want := "B:1 A:2 C:2 E:4 D:5"
	if g := joinStr(got); g != want {
		t.Fatalf("ranking %s, want %s", g, want)
	}
}

func joinStr(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}

// TestDeckScorecards checks the deck's defaults are valid scorecards, and
// that any subset of their KPIs reweights to exactly 100.
func TestDeckScorecards(t *testing.T) {
	ids := map[string]int64{"revenue": 1, "gross_margin": 2, "sales_expense": 3, "units": 4, "collections": 5,
		"new_customers": 6, "customers": 7, "market_share": 8, "customer_satisfaction": 9, "plan_quality": 10, "penetration": 11}
	for _, tpl := range planning.DeckScorecards() {
		card := &planning.Scorecard{Level: tpl.Level, Name: tpl.Name, Rounding: tpl.Rounding}
		for i, k := range tpl.KPIs {
			kpi := planning.KPI{MeasureID: ids[k.MeasureCode], Label: k.Label, Weight: k.Weight, Direction: k.Direction, Curve: k.Curve}
			for j := range k.ProductLineCodes {
				kpi.ProductLineIDs = append(kpi.ProductLineIDs, int64(100*i+j+1))
			}
			card.KPIs = append(card.KPIs, kpi)
		}
		if err := card.Validate(); err != nil {
			t.Errorf("%s: %v", tpl.Level, err)
		}
	}
	rapid.Check(t, func(t *rapid.T) {
		tpls := planning.DeckScorecards()
		tpl := tpls[rapid.IntRange(0, len(tpls)-1).Draw(t, "template")]
		mask := rapid.SliceOfN(rapid.Bool(), len(tpl.KPIs), len(tpl.KPIs)).Draw(t, "keep")
		i := -1
		kept := tpl.Reweight(func(planning.KPITemplate) bool { i++; return mask[i] })
		n, sum := 0, decimal.Zero
		for _, m := range mask {
			if m {
				n++
			}
		}
		for _, k := range kept {
			sum = sum.Add(k.Weight)
			if !k.Weight.Equal(k.Weight.Round(2)) || !k.Weight.IsPositive() {
				t.Fatalf("weight %s", k.Weight)
			}
		}
		if len(kept) != n || n > 0 && !sum.Equal(d("100")) {
			t.Fatalf("kept %d of %d, weights sum to %s", len(kept), n, sum)
		}
	})
}
