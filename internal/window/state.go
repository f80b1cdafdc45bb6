package window

import (
	"bytes"
	"slices"

	"github.com/tidwall/gjson"
)

// State is the running state of a Set's aggregates for one window of one
// key. Build it with Set.New; a State belongs to the Set that made it.
type State struct{ accs []acc }

// acc is one aggregate's state; which members it uses depends on the Func.
type acc struct {
	n   int64  // count; the values summed (sum, avg)
	sum num    // sum, avg
	val []byte // min, max, first, last: the chosen value as written (JSON)
	vn  num    // min, max: val as a number, when vnum
	vok bool   // min, max: val is a number
	t   int64  // first, last: the event time of val
	set map[string]struct{}
}

// New returns the state of no record.
func (s *Set) New() *State { return &State{accs: make([]acc, len(s.aggs))} }

// Add adds the record rec at event time t to st. A value that the function
// cannot take (a field that is missing or null; for sum and avg one that is
// not a number or numeric string; for min and max an object, array or
// boolean) is skipped, as SQL skips NULL, and counted in the result:
// skipped is how many of the set's aggregates skipped rec for a value that
// was present (a type mismatch, for conveyor_type_mismatch_total).
func (s *Set) Add(st *State, rec []byte, t int64) (skipped int) {
	for i := range s.aggs {
		if !s.addValue(st, i, s.aggs[i].path.Peek(rec), t) {
			skipped++
		}
	}
	return skipped
}

// Fields are the aggregates' fields, one per aggregate in output order
// ("" for count()): AddValues takes their values in this order.
func (s *Set) Fields() []string {
	out := make([]string, len(s.aggs))
	for i, a := range s.aggs {
		out[i] = a.Field
	}
	return out
}

// AddValues is Add for the values of the set's Fields read already from
// the record (as record.Path.Peek gives them), vals[i] for aggregate i.
func (s *Set) AddValues(st *State, vals []gjson.Result, t int64) (skipped int) {
	for i := range s.aggs {
		if !s.addValue(st, i, vals[i], t) {
			skipped++
		}
	}
	return skipped
}

// addValue adds v, aggregate i's value in a record at event time t; false
// when the function cannot take it.
func (s *Set) addValue(st *State, i int, v gjson.Result, t int64) bool {
	a, c := &s.aggs[i], &st.accs[i]
	if a.Func == Count && a.Field == "" {
		c.n++
		return true
	}
	if v.Type == gjson.Null {
		return true
	}
	return c.add(a.Func, v, t)
}

// Reset makes st the state of no record again, keeping what it allocated
// (for a State used for one window after another).
func (s *Set) Reset(st *State) {
	for i := range st.accs {
		set := st.accs[i].set
		clear(set)
		st.accs[i] = acc{set: set}
	}
}

func (c *acc) add(f Func, v gjson.Result, t int64) bool {
	switch f {
	case Count:
		c.n++
	case Sum, Avg:
		x, ok := numberOf(v)
		if !ok {
			return false
		}
		c.addSum(1, x)
	case Min, Max:
		return c.extreme(f, v)
	case First, Last:
		c.pick(f, t, v.Raw)
	case CountDistinct:
		if c.set == nil {
			c.set = make(map[string]struct{})
		}
		var arr [64]byte
		k := appendDistinctKey(arr[:0], v)
		if _, ok := c.set[string(k)]; !ok { // a lookup that does not allocate
			c.set[string(k)] = struct{}{}
		}
	}
	return true
}

// numberOf reads a number or a numeric string.
func numberOf(v gjson.Result) (num, bool) {
	switch v.Type {
	case gjson.Number:
		return parseNum(v.Raw)
	case gjson.String:
		return parseNum(v.Str)
	}
	return num{}, false
}

// appendDistinctKey appends the identity of a value for count_distinct:
// 's' and a string's text, or 'j' and any other value's JSON text, so 1 and
// "1" are distinct, and 1.0 and 1 are too (as written).
func appendDistinctKey(dst []byte, v gjson.Result) []byte {
	if v.Type == gjson.String {
		return append(append(dst, 's'), v.Str...)
	}
	return append(append(dst, 'j'), v.Raw...)
}

func (c *acc) addSum(n int64, x num) {
	if c.n == 0 {
		c.sum = x
	} else {
		c.sum = c.sum.add(x)
	}
	c.n += n
}

// extreme keeps the least (Min) or greatest (Max) value: numbers and
// numeric strings by value, other strings by their bytes, every number
// below every other string.
func (c *acc) extreme(f Func, v gjson.Result) bool {
	if v.Type != gjson.Number && v.Type != gjson.String {
		return false
	}
	x, isNum := numberOf(v)
	if v.Type == gjson.Number && !isNum {
		return false
	}
	return c.offer(f, v.Raw, x, isNum)
}

func (c *acc) offer(f Func, raw string, x num, isNum bool) bool {
	if c.val != nil {
		d := compareValues(x, isNum, raw, c.vn, c.vok, c.val)
		if f == Min && d >= 0 || f == Max && d <= 0 {
			return true
		}
	}
	c.val = append(c.val[:0], raw...)
	c.vn, c.vok = x, isNum
	return true
}

func compareValues(x num, xNum bool, xRaw string, y num, yNum bool, yRaw []byte) int {
	switch {
	case xNum && yNum:
		return x.cmp(y)
	case xNum:
		return -1
	case yNum:
		return 1
	}
	return bytes.Compare([]byte(xRaw), yRaw) // strings: their JSON texts compare as their bytes do, escapes aside
}

// pick keeps the value of the earliest (First) or latest (Last) event
// time; on a tie, the smaller (First) or greater (Last) JSON text, so the
// result does not depend on the order records were read in.
func (c *acc) pick(f Func, t int64, raw string) {
	if c.val != nil {
		d := cmpInt(t, c.t)
		if d == 0 {
			d = bytes.Compare([]byte(raw), c.val)
		}
		if f == First && d >= 0 || f == Last && d <= 0 {
			return
		}
	}
	c.val = append(c.val[:0], raw...)
	c.t = t
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Merge adds src's records to dst, as if every record added to src had
// been added to dst (merging session windows). src is left unchanged.
func (s *Set) Merge(dst, src *State) {
	for i := range s.aggs {
		d, c := &dst.accs[i], &src.accs[i]
		switch f := s.aggs[i].Func; f {
		case Count:
			d.n += c.n
		case Sum, Avg:
			if c.n > 0 {
				d.addSum(c.n, c.sum)
			}
		case Min, Max:
			if c.val != nil {
				d.offer(f, string(c.val), c.vn, c.vok)
			}
		case First, Last:
			if c.val != nil {
				d.pick(f, c.t, string(c.val))
			}
		case CountDistinct:
			if len(c.set) > 0 && d.set == nil {
				d.set = make(map[string]struct{}, len(c.set))
			}
			for k := range c.set {
				d.set[k] = struct{}{}
			}
		}
	}
}

// AppendJSON appends the results as JSON object members, without braces
// and with a leading comma before each but the first
// (`"orders":3,"revenue":12.50`), so a caller writes the group fields and
// window bounds around them. count and count_distinct are integers; sum is
// exact (an integer for integers, a decimal with the largest number of
// decimal places added, "13.00") unless a value had an exponent or more
// than 18 digits, or the sum overflowed: then a float64; avg is a float64;
// min, max, first and last are the value as written. A function that took
// no value gives null (count: 0).
func (s *Set) AppendJSON(dst []byte, st *State) []byte {
	for i := range s.aggs {
		if i > 0 {
			dst = append(dst, ',')
		}
		a, c := &s.aggs[i], &st.accs[i]
		dst = appendName(dst, a.Name)
		switch a.Func {
		case Count:
			dst = appendInt(dst, c.n)
		case CountDistinct:
			dst = appendInt(dst, int64(len(c.set)))
		case Sum:
			if c.n == 0 {
				dst = append(dst, "null"...)
			} else {
				dst = c.sum.appendJSON(dst)
			}
		case Avg:
			if c.n == 0 {
				dst = append(dst, "null"...)
			} else {
				dst = appendFloat(dst, c.sum.float64()/float64(c.n))
			}
		default:
			if c.val == nil {
				dst = append(dst, "null"...)
			} else {
				dst = append(dst, c.val...)
			}
		}
	}
	return dst
}

// sortedKeys returns a count_distinct set's members in order.
func sortedKeys(set map[string]struct{}) []string {
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
