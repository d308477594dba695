package main

import (
	"fmt"
	"math"
	"slices"
	"strconv"
)

// comparison is one metric measured for our library, raw client-go and
// controller-runtime.
type comparison struct {
	name     string
	unit     string // appended to each value: "ns", "B", "s", "ms" or ""
	decimals int    // decimals of each value
	ours     float64
	raw      float64
	ctrl     float64
}

// lines returns the comparison as the two lines the program prints:
//
//	<metric>: ours=<value><unit> raw=<value><unit> ratio=<ours/raw>
//	<metric>: ours=<value><unit> ctrl=<value><unit> ratio_ctrl=<ours/ctrl>
func (c comparison) lines() [2]string {
	return [2]string{
		fmt.Sprintf("%s: ours=%s raw=%s ratio=%s", c.name, c.value(c.ours), c.value(c.raw), ratio(c.ours, c.raw)),
		fmt.Sprintf("%s: ours=%s ctrl=%s ratio_ctrl=%s", c.name, c.value(c.ours), c.value(c.ctrl), ratio(c.ours, c.ctrl)),
	}
}

func (c comparison) value(v float64) string {
	return strconv.FormatFloat(v, 'f', c.decimals, 64) + c.unit
}

// ratio formats a/b with three decimals; "n/a" when both are zero, "inf"
// when only b is.
func ratio(a, b float64) string {
	switch {
	case b == 0 && a == 0:
		return "n/a"
	case b == 0:
		return "inf"
	}
	return strconv.FormatFloat(a/b, 'f', 3, 64)
}

// median returns the median of values (the mean of the two middle ones for
// an even count), or NaN for none.
func median(values []float64) float64 {
	if len(values) == 0 {
		return math.NaN()
	}
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	mid := len(sorted) / 2
	if len(sorted)%2 == 1 {
		return sorted[mid]
	}
	return (sorted[mid-1] + sorted[mid]) / 2
}

// percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// values, or NaN for none.
func percentile(values []float64, p float64) float64 {
	if len(values) == 0 {
		return math.NaN()
	}
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}
