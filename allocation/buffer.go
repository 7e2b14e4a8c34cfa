package allocation

import (
	"fmt"

	"github.com/shopspring/decimal"
)

// BufferedMonths returns what the children of a parent with these twelve
// months must add up to in each month when the parent's level carries the
// over-assignment buffer b, exactly as Cascade computes it: the buffered
// year is the year × (1 + b) rounded half away from zero, and each month's
// quota P_j × (1 + b) is rounded by largest remainder to add up to it.
// Without a buffer the months are the parent's own. A consistency check of
// stored targets uses it to know what a buffered level should add up to.
//
// It returns an EINVALID *Error for other than twelve months, amounts with
// more places than scale, or a negative buffer.
func BufferedMonths(months []decimal.Decimal, b decimal.Decimal, scale int32) ([]decimal.Decimal, error) {
	if err := checkScale(scale, "scale"); err != nil {
		return nil, err
	}
	if len(months) != Months {
		return nil, errorf(EINVALID, "months", "", "there are %d months; a year has %d", len(months), Months)
	}
	fac, ferr := toFactor(b, "buffer")
	if ferr != nil {
		return nil, ferr
	}
	ms := make([]num, Months)
	year := num{}
	for j, m := range months {
		v, err := toMinor(m, scale, fmt.Sprintf("months[%d]", j), "")
		if err != nil {
			return nil, err
		}
		ms[j] = v
		year = year.add(v)
	}
	out, rems := make([]num, Months), make([]num, Months)
	st := &stepper{scale: scale}
	if err := st.bufferMonths(ms, year, fac, fac.apply(year), out, rems); err != nil {
		return nil, err
	}
	res := make([]decimal.Decimal, Months)
	for j := range out {
		res[j] = Amount{v: out[j], scale: scale}.Decimal()
	}
	return res, nil
}
