// Package compare holds the rules by which a field of a JSON record
// compares with a value: the table that `conveyor info filter.apply` shows,
// used by filter.apply and by every comparison of an expression
// (internal/expr), so the two cannot disagree.
//
// A field is a gjson.Result (built by hand from a Go value with [Of]); a
// value is an [Operand], prepared once from a constant. Each comparison
// reports ok false on a type mismatch (a number against "n/a", a boolean
// ordered): the caller counts it, and the comparison is false.
package compare

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// Operand is a value prepared for comparison.
type Operand struct {
	Text  string
	Num   float64
	IsNum bool // a number, or a string holding one
	IsStr bool // written as a string (so "100" is both text and number)
	B     bool
	IsB   bool // a boolean, or the string "true" or "false"
	Null  bool // null (only an expression can write one)
}

// NewOperand prepares v: a string, a number (int, int64, float64), a
// boolean or nil; anything else compares only by its fmt text.
func NewOperand(v any) Operand {
	switch x := v.(type) {
	case string:
		o := Operand{Text: x, IsStr: true}
		o.Num, o.IsNum = ParseNum(x)
		o.B, o.IsB = ParseBool(x)
		return o
	case int:
		return Operand{Text: strconv.Itoa(x), Num: float64(x), IsNum: true}
	case int64:
		return Operand{Text: strconv.FormatInt(x, 10), Num: float64(x), IsNum: true}
	case float64:
		return Operand{Text: strconv.FormatFloat(x, 'g', -1, 64), Num: x, IsNum: true}
	case bool:
		return Operand{Text: strconv.FormatBool(x), B: x, IsB: true}
	case nil:
		return Operand{Text: "null", Null: true}
	}
	return Operand{Text: fmt.Sprint(v)}
}

// Of returns a scalar Go value (float64, int, string, bool, nil) as a
// field; ok is false for any other type (an array or object decoded to
// []any or map[string]any), which the caller handles itself.
func Of(v any) (r gjson.Result, ok bool) {
	switch x := v.(type) {
	case float64:
		return gjson.Result{Type: gjson.Number, Num: x}, true
	case int:
		return gjson.Result{Type: gjson.Number, Num: float64(x)}, true
	case string:
		return gjson.Result{Type: gjson.String, Str: x}, true
	case bool:
		if x {
			return gjson.Result{Type: gjson.True}, true
		}
		return gjson.Result{Type: gjson.False}, true
	case nil:
		return gjson.Result{Type: gjson.Null}, true
	}
	return gjson.Result{}, false
}

// FieldNum reads a field as a number: a JSON number, or a string holding
// one.
func FieldNum(r gjson.Result) (float64, bool) {
	switch r.Type {
	case gjson.Number:
		return r.Num, true
	case gjson.String:
		return ParseNum(r.Str)
	}
	return 0, false
}

// ParseNum reads a string holding a number (spaces around it allowed; out
// of range gives ±Inf). "NaN" is not a number here: it would compare
// neither smaller, larger nor equal, and pass >= and <= by default.
func ParseNum(s string) (float64, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		var ne *strconv.NumError
		if !errors.As(err, &ne) || ne.Err != strconv.ErrRange {
			return 0, false
		}
	}
	return f, !math.IsNaN(f)
}

// ParseBool reads the strings "true" and "false", and no other spelling.
func ParseBool(s string) (b, ok bool) {
	return s == "true", s == "true" || s == "false"
}

// Equal compares a present field with w by the == table; ok is false on a
// type mismatch, and then eq is false too. A null w (from an expression)
// equals a null field and is no mismatch with any other.
func Equal(r gjson.Result, w *Operand) (eq, ok bool) {
	if w.Null {
		return r.Type == gjson.Null, true
	}
	switch r.Type {
	case gjson.Number:
		return w.IsNum && r.Num == w.Num, w.IsNum
	case gjson.String:
		switch {
		case w.IsStr:
			return r.Str == w.Text, true
		case w.IsNum:
			n, ok := ParseNum(r.Str)
			return ok && n == w.Num, ok
		}
		b, ok := ParseBool(r.Str) // w is a boolean
		return ok && b == w.B, ok
	case gjson.True, gjson.False:
		return w.IsB && (r.Type == gjson.True) == w.B, w.IsB
	case gjson.Null:
		ok := w.IsStr && w.Text == "null"
		return ok, ok
	}
	return false, false // an array or object
}

// Order compares a present field with w by the > >= < <= table: as numbers
// when w is one (a numeric string counts), as text when w is other text.
// ok is false on a type mismatch (a boolean or null w included).
func Order(r gjson.Result, w *Operand) (c int, ok bool) {
	if w.IsNum {
		n, ok := FieldNum(r)
		return cmp.Compare(n, w.Num), ok
	}
	if r.Type != gjson.String || !w.IsStr {
		return 0, false
	}
	return strings.Compare(r.Str, w.Text), true
}

// Contains looks for w's text in a string field, or for an element == w in
// an array field; ok is false for a field of any other type.
func Contains(r gjson.Result, w *Operand) (found, ok bool) {
	switch {
	case r.Type == gjson.String:
		return strings.Contains(r.Str, w.Text), true
	case r.IsArray():
		r.ForEach(func(_, el gjson.Result) bool {
			found, _ = Equal(el, w)
			return !found
		})
		return found, true
	}
	return false, false
}
