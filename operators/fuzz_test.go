package operators_test

import (
	"encoding/json"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/conveyor-etl/conveyor/operators"
	"github.com/conveyor-etl/conveyor/plugin"
)

var fuzzOps = []string{">", ">=", "<", "<=", "==", "!=", "contains", "in", "not in", "not contains", "matches"}

// FuzzFilterNumeric compares filter.apply against the documented table
// (TestFilterTable's reference, which reads the field with encoding/json)
// for any JSON value in the column and a value that is a number or any
// string (numeric or not): whether the record passes and whether it counts
// as a type mismatch. For bytes that are not valid JSON it only must not
// panic.
func FuzzFilterNumeric(f *testing.F) {
	fields := []string{`100`, `99.5`, `"100"`, `" 1e2 "`, `"NaN"`, `"inf"`, `null`, `true`, `[100]`, `{"a":1}`, `1e400`, `-0`,
		`"abc"`, `"n/a"`, `"pending"`, `"1,000"`, `""`, `"true"`, `"null"`, `["100","x"]`, `"\u0031\u0030\u0030"`, `{`}
	values := []string{"100", "1e2", "abc", "n/a", "", "true", "null", "1,000", "-0", "inf"}
	for _, s := range fields {
		for op := range fuzzOps {
			f.Add(s, uint8(op), 100.0, "", false)
			for _, v := range values {
				f.Add(s, uint8(op), 0.0, v, true)
			}
		}
	}
	_, _, groups := operators.Table()
	f.Fuzz(func(t *testing.T, amount string, op uint8, num float64, str string, asString bool) {
		var value any = num
		if asString {
			if !utf8.ValidString(str) {
				return // TOML strings are UTF-8
			}
			value = str
		} else if math.IsNaN(num) {
			return // the config rejects nan (TestFilterConfigErrors)
		}
		opName := fuzzOps[int(op)%len(fuzzOps)]
		cfgValue := value
		if opName == "in" || opName == "not in" {
			cfgValue = []any{value}
		}
		flt, err := operators.NewFilter(&operators.FilterConfig{Column: "amount", Operator: opName, Value: cfgValue})
		if err != nil {
			if pattern, ok := value.(string); opName == "matches" && (!ok || !compiles(pattern)) {
				return // matches takes only a valid pattern (TestFilterTable)
			}
			t.Fatal(err)
		}
		rec := []byte(`{"event":"x","amount":` + amount + `,"z":1}`)
		got := len(flt.Apply([]plugin.Record{{Value: rec}}, nil, nil)) == 1 // must not panic, valid JSON or not
		if flt.Match(rec) != got {
			t.Fatalf("%s: Match and Apply disagree", rec)
		}
		field, ok := decodeOne(amount)
		if !ok || !json.Valid(rec) {
			return
		}
		g := 1 // == != in not in
		switch opName {
		case ">", ">=", "<", "<=":
			g = 0
		case "contains", "not contains":
			g = 2
		case "matches":
			g = 3
		}
		want, class := referenceOutcome(groups, groups[g].Rules[refKind(field)][refKind(value)], opName, field, value)
		if st := flt.Stats(); got != want || (st.TypeMismatch == 1) != (class == "mismatch") || st.Missing != 0 {
			t.Errorf("%s %s %#v: filter passes %v and counted %+v, reference passes %v and counts %q", rec, opName, value, got, st, want, class)
		}
	})
}

func compiles(pattern string) bool {
	_, err := regexp.Compile(pattern)
	return err == nil
}

// decodeOne decodes s as exactly one JSON value holding valid UTF-8 (what a
// source hands on), numbers as json.Number.
func decodeOne(s string) (any, bool) {
	if !utf8.ValidString(s) {
		return nil, false
	}
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil {
		return nil, false
	}
	_, err := d.Token()
	return v, err == io.EOF
}

func isRange(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}
