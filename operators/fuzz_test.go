package operators_test

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/conveyor-etl/conveyor/operators"
)

var fuzzOps = []string{">", ">=", "<", "<=", "==", "!="}

// FuzzFilterNumeric compares filter.apply on a numeric constant against a
// reference built on encoding/json, for any JSON value in the column; for
// bytes that are not valid JSON it only must not panic.
func FuzzFilterNumeric(f *testing.F) {
	for _, s := range []string{`100`, `99.5`, `"100"`, `" 1e2 "`, `"NaN"`, `"inf"`, `null`, `true`, `[100]`, `{"a":1}`, `1e400`, `-0`, `"abc"`, `"\u0031\u0030\u0030"`, `{`} {
		for op := range fuzzOps {
			f.Add(s, uint8(op), 100.0)
		}
	}
	f.Fuzz(func(t *testing.T, amount string, op uint8, v float64) {
		if math.IsNaN(v) {
			return // the config rejects nan (TestFilterConfigErrors)
		}
		opName := fuzzOps[int(op)%len(fuzzOps)]
		flt, err := operators.NewFilter(&operators.FilterConfig{Column: "amount", Operator: opName, Value: v})
		if err != nil {
			t.Fatal(err)
		}
		rec := []byte(`{"event":"x","amount":` + amount + `,"z":1}`)
		got := flt.Match(rec) // must not panic, valid JSON or not
		if !json.Valid(rec) {
			return
		}
		if want := referenceMatch(t, rec, opName, v); got != want {
			t.Errorf("%s %s %v: filter says %v, reference %v", rec, opName, v, got, want)
		}
	})
}

// referenceMatch decodes the record fully and compares as documented: a
// number, or a string holding one, compares numerically; any other value
// is not equal and not ordered.
func referenceMatch(t *testing.T, rec []byte, op string, v float64) bool {
	d := json.NewDecoder(bytes.NewReader(rec))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("reference decode of %s: %v", rec, err)
	}
	var n float64
	ok := false
	switch x := m["amount"].(type) {
	case json.Number:
		n, _ = strconv.ParseFloat(string(x), 64) // out of range: ±Inf, as the filter reads it
		ok = true
	case string:
		var err error
		n, err = strconv.ParseFloat(strings.TrimSpace(x), 64)
		ok = err == nil || isRange(err)
	}
	if ok && math.IsNaN(n) {
		ok = false
	}
	switch op {
	case "==":
		return ok && n == v
	case "!=":
		return !(ok && n == v)
	case ">":
		return ok && n > v
	case ">=":
		return ok && n >= v
	case "<":
		return ok && n < v
	default:
		return ok && n <= v
	}
}

func isRange(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}
