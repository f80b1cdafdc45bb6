package window

import (
	"math"
	"math/bits"
	"strconv"
)

// num is a sum or an extreme: exact as a decimal m/10^scale while every
// value added was a decimal of at most 18 significant digits and the sum
// fits an int64 mantissa, a float64 from then on.
type num struct {
	m     int64
	scale uint8
	float bool
	f     float64
}

const maxScale = 18

var pow10 = func() (p [maxScale + 1]int64) {
	p[0] = 1
	for i := 1; i <= maxScale; i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// parseNum reads a JSON number's text (or a numeric string's): exact when
// it is a plain decimal ("-12.340", "7") that fits, a float64 otherwise
// ("1e3", 20 digits). ok is false for text that is not a number.
func parseNum(s string) (n num, ok bool) {
	if m, scale, ok := parseDecimal(s); ok {
		return num{m: m, scale: scale}, true
	}
	if !decimalText(s) {
		return num{}, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return num{}, false
	}
	return num{float: true, f: f}, true
}

// parseDecimal reads [-]digits[.digits] into a mantissa and scale.
func parseDecimal(s string) (m int64, scale uint8, ok bool) {
	i, neg := 0, false
	if i < len(s) && s[i] == '-' {
		i, neg = 1, true
	}
	digits, point := 0, -1
	var u uint64
	for ; i < len(s); i++ {
		c := s[i]
		if c == '.' && point < 0 {
			point = i
			continue
		}
		if c < '0' || c > '9' {
			return 0, 0, false
		}
		if digits++; digits > 18 {
			return 0, 0, false
		}
		u = u*10 + uint64(c-'0')
	}
	if digits == 0 || point == len(s)-1 {
		return 0, 0, false
	}
	if point >= 0 {
		scale = uint8(len(s) - point - 1)
	}
	m = int64(u)
	if neg {
		m = -m
	}
	return m, scale, true
}

func (a num) float64() float64 {
	if a.float {
		return a.f
	}
	return float64(a.m) / float64(pow10[a.scale])
}

// rescale returns a's mantissa at a larger scale, ok false on overflow.
func (a num) rescale(scale uint8) (int64, bool) {
	hi, lo := bits.Mul64(uint64(abs64(a.m)), uint64(pow10[scale-a.scale]))
	if hi != 0 || lo > math.MaxInt64 {
		return 0, false
	}
	if a.m < 0 {
		return -int64(lo), true
	}
	return int64(lo), true
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// align returns a's and b's mantissas at their common scale.
func align(a, b num) (am, bm int64, scale uint8, ok bool) {
	scale = max(a.scale, b.scale)
	am, ok1 := a.rescale(scale)
	bm, ok2 := b.rescale(scale)
	return am, bm, scale, ok1 && ok2 && a.m != math.MinInt64 && b.m != math.MinInt64
}

// add returns a+b, exact when both are and the sum fits.
func (a num) add(b num) num {
	if !a.float && !b.float {
		if am, bm, scale, ok := align(a, b); ok {
			s := am + bm
			if (s > am) == (bm > 0) || bm == 0 {
				return num{m: s, scale: scale}
			}
		}
	}
	return num{float: true, f: a.float64() + b.float64()}
}

// cmp compares a and b by value (exactly when both are exact).
func (a num) cmp(b num) int {
	if !a.float && !b.float {
		if am, bm, _, ok := align(a, b); ok {
			switch {
			case am < bm:
				return -1
			case am > bm:
				return 1
			}
			return 0
		}
	}
	x, y := a.float64(), b.float64()
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// appendJSON appends a as a JSON number: an exact one with its scale's
// digits after the point ("13.00"), a float as encoding/json writes it.
func (a num) appendJSON(dst []byte) []byte {
	if a.float {
		return appendFloat(dst, a.f)
	}
	if a.scale == 0 {
		return strconv.AppendInt(dst, a.m, 10)
	}
	if a.m < 0 {
		dst = append(dst, '-')
	}
	u := uint64(abs64(a.m))
	if a.m == math.MinInt64 {
		u = 1 << 63
	}
	p := uint64(pow10[a.scale])
	dst = strconv.AppendUint(dst, u/p, 10)
	dst = append(dst, '.')
	frac := strconv.AppendUint(nil, u%p, 10)
	for i := len(frac); i < int(a.scale); i++ {
		dst = append(dst, '0')
	}
	return append(dst, frac...)
}

// appendFloat writes f as encoding/json does; NaN and ±Inf (not JSON) as
// null.
func appendFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		return strconv.AppendFloat(dst, f, 'e', -1, 64)
	}
	return strconv.AppendFloat(dst, f, 'f', -1, 64)
}
