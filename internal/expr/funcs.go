package expr

import (
	"hash/fnv"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/conveyor-etl/conveyor/internal/compare"
)

// The functions the rewriter calls in place of operators. Each takes the
// evaluation's *state first.
const (
	fnEq            = "$eq"
	fnNe            = "$ne"
	fnLt            = "$lt"
	fnLe            = "$le"
	fnGt            = "$gt"
	fnGe            = "$ge"
	fnIn            = "$in"
	fnNotIn         = "$notIn"
	fnContains      = "$contains"
	fnNotContains   = "$notContains"
	fnStartsWith    = "$startsWith"
	fnNotStartsWith = "$notStartsWith"
	fnEndsWith      = "$endsWith"
	fnNotEndsWith   = "$notEndsWith"
	fnMatches       = "$matches"
	fnNotMatches    = "$notMatches"
	fnAdd           = "$add"
	fnSub           = "$sub"
	fnMul           = "$mul"
	fnDiv           = "$div"
	fnMod           = "$mod"
	fnPow           = "$pow"
	fnNeg           = "$neg"
	fnTruthy        = "$truthy"
	fnCoalesce      = "coalesce"
)

// operands is a constant list (the right side of in), prepared once.
type operands []compare.Operand

type span struct{ min, max int } // max -1: any number

func (s span) String() string {
	switch {
	case s.min == s.max && s.min == 1:
		return "1 argument"
	case s.min == s.max:
		return strconv.Itoa(s.min) + " arguments"
	case s.max < 0:
		return "at least " + strconv.Itoa(s.min) + " arguments"
	}
	return strconv.Itoa(s.min) + " to " + strconv.Itoa(s.max) + " arguments"
}

// arity is the number of arguments of each function a user may call.
var arity = map[string]span{"lower": {1, 1}, "upper": {1, 1}, "trim": {1, 1}, "len": {1, 1},
	"int": {1, 1}, "float": {1, 1}, "string": {1, 1}, "coalesce": {1, -1}, "hash": {1, 1}, "now": {0, 0}}

// binFn is a comparison: a field value (or any value) on the left, a
// value or a prepared constant on the right.
type binFn = func(s *state, l, r any) bool

// comparisons by function name; Program.Eval calls one directly when it is
// the whole expression (field OP constant), without the VM.
var comparators = map[string]binFn{
	fnEq: cmpFn(func(c cmpResult) bool { return c.eq }),
	fnNe: cmpFn(func(c cmpResult) bool { return !c.eq }),
	fnLt: orderFn(func(c int) bool { return c < 0 }),
	fnLe: orderFn(func(c int) bool { return c <= 0 }),
	fnGt: orderFn(func(c int) bool { return c > 0 }),
	fnGe: orderFn(func(c int) bool { return c >= 0 }),

	fnIn:            func(s *state, l, r any) bool { return in(s, l, r, false) },
	fnNotIn:         func(s *state, l, r any) bool { return in(s, l, r, true) },
	fnContains:      func(s *state, l, r any) bool { return contains(s, l, r, false) },
	fnNotContains:   func(s *state, l, r any) bool { return contains(s, l, r, true) },
	fnStartsWith:    textFn(strings.HasPrefix, false),
	fnNotStartsWith: textFn(strings.HasPrefix, true),
	fnEndsWith:      textFn(strings.HasSuffix, false),
	fnNotEndsWith:   textFn(strings.HasSuffix, true),
	fnMatches:       func(s *state, l, r any) bool { return matches(s, l, r, false) },
	fnNotMatches:    func(s *state, l, r any) bool { return matches(s, l, r, true) },
	fnTruthy:        func(s *state, l, _ any) bool { return truthy(s, l) },
}

// boolFuncs return a boolean: truthy need not wrap them.
func boolFunc(name string) bool { _, ok := comparators[name]; return ok }

type fn = func(params ...any) (any, error)

func init() {
	for name, b := range comparators {
		if name == fnTruthy {
			functions[name] = func(a ...any) (any, error) { return b(st(a), a[1], nil), nil }
			continue
		}
		functions[name] = func(a ...any) (any, error) { return b(st(a), a[1], a[2]), nil }
	}
}

var functions = map[string]fn{
	fnAdd: func(a ...any) (any, error) { return add(st(a), a[1], a[2]), nil },
	fnSub: numFn(func(x, y int) (int, bool) { return x - y, true }, func(x, y float64) float64 { return x - y }),
	fnMul: numFn(func(x, y int) (int, bool) { return x * y, true }, func(x, y float64) float64 { return x * y }),
	fnDiv: numFn(nil, func(x, y float64) float64 { return x / y }),
	fnMod: numFn(func(x, y int) (int, bool) {
		if y == 0 {
			return 0, false
		}
		return x % y, true
	}, math.Mod),
	fnPow: numFn(nil, math.Pow),
	fnNeg: func(a ...any) (any, error) {
		return arith(st(a), 0, a[1], func(x, y int) (int, bool) { return x - y, true }, func(x, y float64) float64 { return x - y }), nil
	},

	"lower":  stringFn(strings.ToLower),
	"upper":  stringFn(strings.ToUpper),
	"trim":   stringFn(strings.TrimSpace),
	"len":    func(a ...any) (any, error) { return length(st(a), a[1]), nil },
	"int":    func(a ...any) (any, error) { return toInt(st(a), a[1]), nil },
	"float":  func(a ...any) (any, error) { return toFloat(st(a), a[1]), nil },
	"string": func(a ...any) (any, error) { return toString(st(a), a[1]), nil },
	"hash":   func(a ...any) (any, error) { return hash(st(a), a[1]), nil },
	"now":    func(...any) (any, error) { return int(time.Now().UnixMilli()), nil },

	fnCoalesce: func(a ...any) (any, error) {
		for _, x := range a[1:] {
			switch x.(type) {
			case missingT, invalidT, nil:
				continue
			}
			return x, nil
		}
		return missingT{}, nil
	},
}

func st(a []any) *state { return a[0].(*state) }

// absent reports whether x holds no value, and records why.
func (s *state) absent(x any) bool {
	switch x.(type) {
	case missingT:
		s.out |= Missing
		return true
	case invalidT:
		s.out |= Mismatch // already set where it was made; a foreign call cannot have
		return true
	}
	return false
}

func (s *state) mismatch() { s.out |= Mismatch }

// operand prepares the right side of a comparison: a constant the
// rewriter prepared, or a scalar value; ok false for anything else.
func operand(x any) (compare.Operand, bool) {
	switch v := x.(type) {
	case *compare.Operand:
		return *v, true
	case string, int, float64, bool, nil:
		return compare.NewOperand(v), true
	}
	return compare.Operand{}, false
}

type cmpResult struct{ eq, ok bool }

// equal applies the == table to a field value and a right side.
func equal(l, r any) cmpResult {
	lr, okL := compare.Of(l)
	w, okR := operand(r)
	if !okL || !okR {
		return cmpResult{}
	}
	eq, ok := compare.Equal(lr, &w)
	return cmpResult{eq, ok}
}

// cmpFn makes == or !=: false on a missing side, and on a mismatch, which
// is counted, the result of pass (so != holds).
func cmpFn(pass func(cmpResult) bool) binFn {
	return func(s *state, l, r any) bool {
		if s.absent(l) || s.absent(r) {
			return false
		}
		c := equal(l, r)
		if !c.ok {
			s.mismatch()
		}
		return pass(c)
	}
}

func orderFn(pass func(int) bool) binFn {
	return func(s *state, l, r any) bool {
		if s.absent(l) || s.absent(r) {
			return false
		}
		lr, okL := compare.Of(l)
		w, okR := operand(r)
		if !okL || !okR {
			s.mismatch()
			return false
		}
		c, ok := compare.Order(lr, &w)
		if !ok {
			s.mismatch()
			return false
		}
		return pass(c)
	}
}

// in: l == some element of r (a list), or l is a key of r (an object). A
// mismatch only when l mismatches every element. not in is its negation,
// except that a missing l fails both.
func in(s *state, l, r any, not bool) bool {
	if s.absent(l) || s.absent(r) {
		return false
	}
	found, compared := false, false
	switch list := r.(type) {
	case operands:
		lr, ok := compare.Of(l)
		for i := 0; ok && i < len(list) && !found; i++ {
			eq, ok := compare.Equal(lr, &list[i])
			found, compared = eq, compared || ok
		}
		compared = compared || found || len(list) == 0
	case []any:
		for _, el := range list {
			if found {
				break
			}
			c := equal(l, el)
			found, compared = c.eq, compared || c.ok
		}
		compared = compared || found || len(list) == 0
	case map[string]any:
		if k, ok := l.(string); ok {
			_, found = list[k]
			compared = true
		}
	}
	if !compared {
		s.mismatch()
	}
	return found != not
}

// contains: a string holding r's text, or a list with an element == r.
func contains(s *state, l, r any, not bool) bool {
	if s.absent(l) || s.absent(r) {
		return false
	}
	w, ok := operand(r)
	if !ok {
		s.mismatch()
		return not
	}
	found := false
	switch x := l.(type) {
	case string:
		found = strings.Contains(x, w.Text)
	case []any:
		for _, el := range x {
			if lr, ok := compare.Of(el); ok {
				if eq, _ := compare.Equal(lr, &w); eq {
					found = true
					break
				}
			}
		}
	default:
		s.mismatch()
		return not
	}
	return found != not
}

func textFn(test func(s, prefix string) bool, not bool) binFn {
	return func(s *state, l, r any) bool {
		if s.absent(l) || s.absent(r) {
			return false
		}
		str, isStr := l.(string)
		w, ok := operand(r)
		if !isStr || !ok {
			s.mismatch()
			return not
		}
		return test(str, w.Text) != not
	}
}

func matches(s *state, l, r any, not bool) bool {
	if s.absent(l) || s.absent(r) {
		return false
	}
	str, isStr := l.(string)
	var re *regexp.Regexp
	switch p := r.(type) {
	case *regexp.Regexp:
		re = p
	case string:
		re, _ = regexp.Compile(p) // a pattern from a field: compiled per record
	}
	if !isStr || re == nil {
		s.mismatch()
		return not
	}
	return re.MatchString(str) != not
}

// truthy reads x as a condition: a boolean, or the string "true" or
// "false"; anything else is false and counted.
func truthy(s *state, x any) bool {
	switch v := x.(type) {
	case bool:
		return v
	case string:
		if b, ok := compare.ParseBool(v); ok {
			return b
		}
	}
	if !s.absent(x) {
		s.mismatch()
	}
	return false
}

// toNumber reads a number, or a string holding one.
func toNumber(x any) (float64, bool) {
	switch v := x.(type) {
	case float64:
		return v, !math.IsNaN(v)
	case int:
		return float64(v), true
	case string:
		return compare.ParseNum(v)
	}
	return 0, false
}

// add adds numbers (numeric strings too) and concatenates two strings.
func add(s *state, l, r any) any {
	if ls, ok := l.(string); ok {
		if rs, ok := r.(string); ok {
			return ls + rs
		}
	}
	return arith(s, l, r, func(x, y int) (int, bool) { return x + y, true }, func(x, y float64) float64 { return x + y })
}

func numFn(ints func(x, y int) (int, bool), floats func(x, y float64) float64) fn {
	return func(a ...any) (any, error) { return arith(st(a), a[1], a[2], ints, floats), nil }
}

// arith applies an operator: on two ints with ints when given (and it does
// not overflow, checked by the caller's ok), else on float64s. A result
// that is not finite is invalid.
func arith(s *state, l, r any, ints func(x, y int) (int, bool), floats func(x, y float64) float64) any {
	if s.absent(l) || s.absent(r) {
		if _, ok := l.(missingT); ok {
			return missingT{}
		}
		if _, ok := r.(missingT); ok {
			return missingT{}
		}
		return invalidT{}
	}
	if li, ok := l.(int); ok && ints != nil {
		if ri, ok := r.(int); ok {
			if n, ok := ints(li, ri); ok && !overflows(li, ri, n) {
				return n
			}
			if ri == 0 {
				s.mismatch()
				return invalidT{}
			}
		}
	}
	x, okX := toNumber(l)
	y, okY := toNumber(r)
	if !okX || !okY {
		s.mismatch()
		return invalidT{}
	}
	z := floats(x, y)
	if math.IsNaN(z) || math.IsInf(z, 0) {
		s.mismatch()
		return invalidT{}
	}
	return z
}

// overflows is a cheap test that an int result may have wrapped: operands
// or result beyond 2^53 go to float64 instead.
func overflows(x, y, z int) bool {
	const lim = 1 << 53
	return x > lim || x < -lim || y > lim || y < -lim || z > lim || z < -lim
}

func stringFn(f func(string) string) fn {
	return func(a ...any) (any, error) {
		s := st(a)
		if s.absent(a[1]) {
			return missingT{}, nil
		}
		str, ok := a[1].(string)
		if !ok {
			s.mismatch()
			return invalidT{}, nil
		}
		return f(str), nil
	}
}

func length(s *state, x any) any {
	switch v := x.(type) {
	case string:
		return utf8.RuneCountInString(v)
	case []any:
		return len(v)
	case map[string]any:
		return len(v)
	}
	if s.absent(x) {
		return missingT{}
	}
	s.mismatch()
	return invalidT{}
}

func toInt(s *state, x any) any {
	if i, ok := x.(int); ok {
		return i
	}
	f := toFloat(s, x)
	if v, ok := f.(float64); ok {
		if math.Abs(v) >= 1<<63 {
			s.mismatch()
			return invalidT{}
		}
		return int(v)
	}
	return f
}

func toFloat(s *state, x any) any {
	if s.absent(x) {
		return missingT{}
	}
	if f, ok := toNumber(x); ok && !math.IsInf(f, 0) {
		return f
	}
	s.mismatch()
	return invalidT{}
}

// toString is a value's text: a string as it is, anything else as JSON.
func toString(s *state, x any) any {
	if s.absent(x) {
		return missingT{}
	}
	if str, ok := x.(string); ok {
		return str
	}
	b, err := Value{v: x}.AppendJSON(nil)
	if err != nil {
		s.mismatch()
		return invalidT{}
	}
	return string(b)
}

// hash is FNV-1a 64 of x's string() text, masked to 53 bits.
func hash(s *state, x any) any {
	t := toString(s, x)
	str, ok := t.(string)
	if !ok {
		return t
	}
	h := fnv.New64a()
	h.Write([]byte(str))
	return int(h.Sum64() & (1<<53 - 1))
}
