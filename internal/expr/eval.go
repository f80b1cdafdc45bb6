package expr

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/expr-lang/expr/vm"
	"github.com/tidwall/gjson"

	"github.com/conveyor-etl/conveyor/internal/record"
)

// Outcome says what an evaluation met besides its result: bits that the
// caller counts per record (a record counts as missing when Missing is set,
// else as a type mismatch when Mismatch is).
type Outcome uint8

const (
	// Missing: a field the expression needed was absent.
	Missing Outcome = 1 << iota
	// Mismatch: an operation met types it does not take (see the package
	// doc), or expr-lang raised an error; the result was false or invalid.
	Mismatch
)

// missingT is the value of a field the record lacks, and invalidT the
// result of an operation that could not be made; neither is a value a
// record can hold.
type (
	missingT struct{}
	invalidT struct{}
)

// state is what one evaluation records; the functions get it as their
// first argument.
type state struct{ out Outcome }

// evaluator is the reusable memory of one evaluation at a time.
type evaluator struct {
	vm  vm.VM
	env map[string]any
	st  state
}

type pool struct{ sync.Pool }

func (p *Program) newEvaluator() any {
	e := &evaluator{env: make(map[string]any, len(p.fields)+1)}
	e.env[stateVar] = &e.st
	return e
}

// Eval evaluates the expression on rec, a JSON record. A missing or
// invalid result is a Value of kind KindMissing (and out says which); err
// is an error that expr-lang raised (an index out of range, a builtin given
// the wrong type), and then out has Mismatch. Eval never panics.
func (p *Program) Eval(rec []byte) (v Value, out Outcome, err error) {
	if p.fast != nil {
		var st state
		ok := p.fast.cmp(&st, fieldValue(p.fields[0].path.Peek(rec)), p.fast.c)
		return Value{v: ok}, st.out, nil
	}
	e := p.pool.Get().(*evaluator)
	e.st.out = 0
	for i := range p.fields {
		e.env[p.fields[i].name] = fieldValue(p.fields[i].path.Peek(rec))
	}
	res, err := e.vm.Run(p.prog, e.env)
	out = e.st.out
	p.pool.Put(e)
	if err != nil {
		return Value{v: invalidT{}}, out | Mismatch, err
	}
	switch res.(type) {
	case missingT:
		out |= Missing
	case invalidT:
		out |= Mismatch
	}
	return Value{v: res}, out, nil
}

// Bool evaluates the expression as a condition: true only when the result
// is true or the string "true". A missing result sets Missing; an error, or
// a result of another type, sets Mismatch.
func (p *Program) Bool(rec []byte) (bool, Outcome) {
	v, out, err := p.Eval(rec)
	if err != nil {
		return false, out
	}
	var st state
	b := truthy(&st, v.v)
	return b, out | st.out
}

// fieldValue is a field's value as the expression sees it, copied out of
// the record (r may refer to its memory; a value may outlive it).
func fieldValue(r gjson.Result) any {
	switch r.Type {
	case gjson.Number:
		return r.Num
	case gjson.String:
		return strings.Clone(r.Str)
	case gjson.True:
		return true
	case gjson.False:
		return false
	case gjson.Null:
		if r.Exists() {
			return nil
		}
		return missingT{}
	}
	return gjson.Parse(strings.Clone(r.Raw)).Value() // an object or array, its strings not in rec
}

// Kind is the kind of a Value.
type Kind uint8

// The kinds of value.
const (
	KindMissing Kind = iota // a missing field or an invalid result: no value
	KindNull
	KindBool
	KindNumber
	KindString
	KindArray
	KindObject
)

// Value is the result of an evaluation.
type Value struct{ v any }

// Kind returns the value's kind.
func (v Value) Kind() Kind {
	switch x := v.v.(type) {
	case nil:
		return KindNull
	case bool:
		return KindBool
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return KindMissing
		}
		return KindNumber
	case int, int64, uint64, int32, float32, uint, uint32:
		return KindNumber
	case string:
		return KindString
	case []any, []string, []float64, []int:
		return KindArray
	case map[string]any:
		return KindObject
	}
	return KindMissing
}

// Any returns the value as Go holds it: nil, bool, float64 or int,
// string, []any, map[string]any; nil also for a missing value (check Kind).
func (v Value) Any() any {
	if v.Kind() == KindMissing {
		return nil
	}
	return v.v
}

// Text returns the value as text, for a topic or key: a string as it is, a
// number as its JSON text, a boolean as true or false. ok is false for
// null, a list, an object, or a missing value.
func (v Value) Text() (string, bool) {
	switch x := v.v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	}
	if v.Kind() == KindNumber {
		return string(appendNumber(nil, v.v)), true
	}
	return "", false
}

// Float returns a number, or a string holding one, as a float64.
func (v Value) Float() (float64, bool) { return toNumber(v.v) }

// AppendJSON appends the value as JSON to dst. A missing value is an error,
// as is a number that JSON cannot hold (±Inf).
func (v Value) AppendJSON(dst []byte) ([]byte, error) {
	switch x := v.v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case string:
		return record.AppendString(dst, x), nil
	}
	switch v.Kind() {
	case KindNumber:
		return appendNumber(dst, v.v), nil
	case KindMissing:
		return dst, fmt.Errorf("no value")
	}
	b, err := json.Marshal(v.v)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

// appendNumber writes a number as encoding/json does: integers without a
// fraction, 1e21 and above in exponent form.
func appendNumber(dst []byte, n any) []byte {
	switch x := n.(type) {
	case int:
		return strconv.AppendInt(dst, int64(x), 10)
	case int64:
		return strconv.AppendInt(dst, x, 10)
	case float64:
		if a := math.Abs(x); a != 0 && (a < 1e-6 || a >= 1e21) {
			return strconv.AppendFloat(dst, x, 'e', -1, 64)
		}
		return strconv.AppendFloat(dst, x, 'f', -1, 64)
	}
	return fmt.Append(dst, n)
}
