// Package allocation is the arithmetic of Cascade: it splits amounts down
// an org tree and across the months, exactly, and explains every share. It
// is pure Go with no I/O; it imports only the standard library and
// shopspring/decimal.
//
// # Amounts
//
// Every amount is kept at its measure's scale, the number of decimal places
// (2 for currency, 0 for units), as a whole number of minor units: 1234.50
// at scale 2 is 123450. Inputs are decimal.Decimal; an input that is not a
// whole number of minor units (12.345 at scale 2) is an EINVALID error, never
// rounded silently. Results are Amounts, which convert to decimal.Decimal on
// request. Amounts beyond the int64 range of minor units are exact too. The
// limits (MaxScale, MaxDigits, MaxBufferPlaces) are there only to refuse
// absurd inputs such as 1e-2000000000.
//
// # The rounding rule
//
// A split of a target T among children with weights w_i gives each child
// the exact quota q_i = T × w_i / Σw, which is rarely a whole number of
// minor units. The package uses the largest-remainder method (Hamilton's
// method): every child first gets its quota rounded toward zero, and the
// units still missing, fewer than the number of children, go one each to
// the children with the largest remainders. Equal remainders go to the
// smaller key, comparing keys byte by byte (months: the earlier month). So
// the shares add up to T exactly, and each is within one minor unit of its
// quota (its quota rounded toward zero or away from it).
//
// Negative targets (a loss margin) are the mirror image of their magnitude:
// split(−T) = −split(T), so a loss is rounded exactly as the same profit,
// with the units handed out away from zero.
//
// Example: 100.00 over A, B and C evenly. Each quota is 100/3 = 33.333…; each
// is rounded toward zero to 33.33, which leaves 0.01; the remainders tie, and
// the smallest key, A, gets it: A 33.34, B 33.33, C 33.33. And −100.00 gives
// A −33.34, B −33.33, C −33.33.
//
// # Methods
//
// Split applies one Spec to one parent:
//
//   - Even: equal shares.
//   - Proportional: shares in proportion to the children's weights (last
//     year's actuals, another version's targets, market potential); only
//     their ratios matter, so scaling every weight by a constant changes
//     nothing. Negative weights are an error. When the weights add up to
//     zero, ZeroWeight says whether to fail (the default) or split evenly;
//     nothing is ever divided by zero.
//   - Manual: the caller gives amounts (Child.Manual) for some or all
//     children. Residual says what happens to what they leave of the parent:
//     fail unless it is zero (the default), report it (Result.Residual), or
//     spread it over the other children evenly or proportionally.
//   - Locks: with any method, a locked child (Child.Lock) keeps its current
//     amount, and the rest of the parent is spread over the unlocked
//     children. Locked (and manual) amounts exceed the parent when what they
//     leave for the others points the other way: for a parent T ≥ 0 the
//     others would get less than zero (locks above T), for T < 0 more than
//     zero (locked losses beyond T's), and under a zero parent anything but
//     zero (the locks must cancel out). That is an EINFEASIBLE error, as is a
//     parent whose children are all locked but do not add up to it. Locks
//     may take all of the parent, and negative locks under a positive parent
//     simply leave more for the others.
//   - Buffer: the children together carry parent × (1 + b), b ≥ 0 (such as
//     0.10 or 0.125), so that a branch's teams can be asked for more than
//     the branch. The buffered target is rounded to the scale half away from
//     zero: 0.05 × 1.10 = 0.055 becomes 0.06, and −0.055 becomes −0.06. That
//     is the rounding people do by hand, it is symmetric like the split
//     itself, and it depends on nothing but the two numbers, so it is
//     deterministic. The shares are then split from the buffered target.
//
// # Phasing
//
// Phase spreads a year over twelve months evenly, by a seasonality profile
// (twelve weights) or by a reference year (last year's twelve months), by
// the same rule, ties to the earlier month.
//
// Phasing children is harder, because two sums must hold at once: each
// child's months add up to its year, and in each month the children add up
// to the parent's month. Rounding each child's months on its own breaks the
// second; rounding each month on its own breaks the first. PhaseTable does
// both. It phases the children's years (rows) into the parent's months
// (columns); the exact quota of cell (i, j) is year_i × month_j / year, the
// child's year in the proportion of the parent's month, so the quotas'
// rows and columns add up exactly to the required whole numbers. Every cell
// is first rounded down; the units still missing per row and per column
// form a transportation problem that the fractional parts solve, so by the
// integrality theorem of network flows a solution in whole units exists,
// and PhaseTable finds one: month by month, units go to the cells with the
// largest remainders among children still short of units (a child that
// needs a unit in every month left gets it first), and if a month still
// lacks units, an augmenting-path repair moves units between cells until
// it is whole. The result keeps both sums exactly, keeps locked months
// untouched, and puts every other cell within one minor unit of its quota.
// The tests check all three on random tables.
//
// # Cascades
//
// Cascade applies a Spec per level down a tree in one call (company →
// regions → branches → teams), each level's result being the next level's
// parents, with locks by key, and optionally phases every node: the root by
// a Phasing, every other node as a row of its parent's table. At every node
// and month the children add up to the parent (× (1 + b) with a buffer: the
// parent's months × (1 + b), rounded by largest remainder to add up to the
// buffered year).
//
// The result is flat and deterministic: nodes breadth-first, siblings by
// key, so the same input gives a byte-identical result whatever the order of
// the input's children (Checksum proves it). It holds one int64 per cell;
// Cells iterates over them without allocating, and Explain(key) explains a
// node on request by rerunning its parent's step with tracing. Cascades
// are single-threaded; run independent product lines in parallel if needed.
//
// # Explanations
//
// Explanations give, for each share or cell, its exact quota (a decimal when
// it terminates, a fraction such as "100/3" otherwise), the quota rounded
// toward zero, the rounding applied, and the rule that decided it:
// "largest remainder, rank 1 of 3", "tie broken by key", "locked",
// "manual", "forced", "balanced".
//
// # Errors
//
// Every error is an *Error with a Code (EINVALID, EINFEASIBLE, ETOOLARGE,
// EINTERNAL), the Field of the input at fault (such as
// "root.children[0].children[3].weight" or "levels[1].buffer"), the Key of
// the node or child concerned, and a message for the user.
//
// # Speed
//
// Amounts are converted to int64 minor units once, at the boundary. All
// arithmetic is in int64 with 128-bit intermediates (math/bits.Mul64 and
// Div64 for amount × weight / total); an operation whose operands or result
// do not fit takes math/big instead, so results are always exact and the
// common case never allocates. Results are compact (one int64 per cell)
// and explanations are computed only on request. BenchmarkCascadeVsBaseline
// compares a 40 product lines × 2,011 org units × 12 months cascade with a
// plain int64 largest-remainder loop over the same cells in the same run;
// see its comment for the numbers.
package allocation
