package record

import (
	"bytes"
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"
)

// Fields reads several columns of a JSON record together: in one pass over
// the record's top-level members when every column is a top-level name
// (no '.'), else each with its own Path.Peek. Build it once with
// CompileFields; it is read-only after, so goroutines may share it.
type Fields struct {
	paths []Path
	// names are the top-level names ("" for an empty column, which
	// matches nothing); nil when a column is nested.
	names []string
	// first marks the first bytes of names, and longest is the longest:
	// most members are passed over on these alone.
	first   [256]bool
	longest int
}

// CompileFields compiles columns (see CompilePath) to be read together.
func CompileFields(columns ...string) *Fields {
	f := &Fields{paths: make([]Path, len(columns)), names: make([]string, len(columns))}
	for i, c := range columns {
		f.paths[i] = CompilePath(c)
		if strings.Contains(c, ".") {
			f.names = nil
		}
		if f.names != nil {
			f.names[i] = c
		}
		if c != "" {
			f.first[c[0]] = true
			f.longest = max(f.longest, len(c))
		}
	}
	return f
}

// Len is the number of columns.
func (f *Fields) Len() int { return len(f.paths) }

// Peek sets dst[i] (dst holds Len results) to column i's value in rec, as
// Path.Peek gives it: the first member of that name, referring to rec's
// memory, so valid only while rec is not written; a missing column gives a
// result whose Exists reports false.
func (f *Fields) Peek(rec []byte, dst []gjson.Result) {
	clear(dst)
	if f.names != nil && f.peekTop(rec, dst) {
		return
	}
	for i, p := range f.paths {
		dst[i] = p.Peek(rec)
	}
}

// peekTop reads top-level columns in one pass; false when rec is not an
// object of the usual shape (an escaped name, say): the caller reads it
// with gjson.
func (f *Fields) peekTop(rec []byte, dst []gjson.Result) bool {
	left := 0
	for _, n := range f.names {
		if n != "" {
			left++
		}
	}
	if left == 0 {
		return true
	}
	odd := false
	ok := PeekMembers(rec, func(name string, value []byte) bool {
		if len(name) == 0 || len(name) > f.longest || !f.first[name[0]] {
			return true
		}
		for i, n := range f.names {
			if n == name && n != "" && dst[i].Type == gjson.Null && dst[i].Raw == "" {
				if len(value) == 0 || !startsValue[value[0]] {
					odd = true // gjson reads broken values its own way
					return false
				}
				dst[i] = resultOf(value)
				left--
			}
		}
		return left > 0
	})
	return ok && !odd
}

// startsValue are the bytes a JSON value starts with.
var startsValue = func() (t [256]bool) {
	for _, c := range []byte(`"-0123456789tfn{[`) {
		t[c] = true
	}
	return t
}()

// resultOf is the gjson result of the JSON value raw, as gjson.Get gives
// it, referring to raw's memory.
func resultOf(raw []byte) gjson.Result {
	s := unsafe.String(unsafe.SliceData(raw), len(raw))
	if len(raw) >= 2 && raw[0] == '"' && bytes.IndexByte(raw, '\\') < 0 {
		return gjson.Result{Type: gjson.String, Raw: s, Str: s[1 : len(s)-1]}
	}
	if len(raw) > 0 && (raw[0] == '-' || '0' <= raw[0] && raw[0] <= '9') {
		if f, ok := smallDecimal(raw); ok {
			return gjson.Result{Type: gjson.Number, Raw: s, Num: f}
		}
	}
	return gjson.Parse(s)
}

// exactPow10 are the powers of ten a float64 holds exactly.
var exactPow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// smallDecimal reads [-]digits[.digits] of at most 15 digits, the float64
// ParseFloat gives (a mantissa below 2^53 divided by an exact power of
// ten is rounded once, correctly); false for any other text.
func smallDecimal(b []byte) (float64, bool) {
	i, neg := 0, b[0] == '-'
	if neg {
		i = 1
	}
	var m uint64
	digits, frac, point := 0, 0, false
	for ; i < len(b); i++ {
		switch c := b[i]; {
		case '0' <= c && c <= '9':
			m = m*10 + uint64(c-'0')
			if digits++; point {
				frac++
			}
		case c == '.' && !point && digits > 0:
			point = true
		default:
			return 0, false
		}
	}
	if digits == 0 || digits > 15 || point && frac == 0 {
		return 0, false
	}
	f := float64(m) / exactPow10[frac]
	if neg {
		f = -f
	}
	return f, true
}
