package operators_test

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/conveyor-etl/conveyor/operators"
	"github.com/conveyor-etl/conveyor/plugin"
)

// aliases are operators the table does not list, tested with the rules of
// the one they stand for.
var aliases = map[string]string{"==": "=", "!=": "<>"}

// TestFilterTable checks every cell of the documented comparison table
// (`conveyor info filter.apply`, README): for each group of operators, each
// kind of field and each kind of value, every example field against every
// example value, with each operator of the group, passes or fails and is
// counted as the cell's rule says. The expected outcome comes from a
// reference that reads the record with encoding/json and applies the rule
// word as the legend defines it.
func TestFilterTable(t *testing.T) {
	fields, values, groups := operators.Table()
	checkTableExamples(t, fields, values)
	cells := 0
	for _, g := range groups {
		for fi, fk := range fields {
			for vi, vk := range values {
				rule := g.Rules[fi][vi]
				for _, op := range g.Ops {
					for _, o := range []string{op, aliases[op]} {
						if o == "" {
							continue
						}
						for _, v := range vk.Examples {
							fieldExamples := fk.Examples
							if fk.Name == "missing" {
								fieldExamples = []string{""}
							}
							for _, fx := range fieldExamples {
								checkCell(t, groups, rule, o, fx, v)
								cells++
							}
						}
					}
				}
			}
		}
	}
	t.Logf("%d comparisons", cells)
}

// checkCell runs one field example against one value example.
func checkCell(t *testing.T, groups []operators.TableGroup, rule, op, fieldJSON, valueTOML string) {
	t.Helper()
	name := fmt.Sprintf("field %s %s value %s (rule %s)", orMissing(fieldJSON), op, valueTOML, rule)
	if op == "in" || op == "not in" {
		valueTOML = "[" + valueTOML + "]"
	}
	cfg, err := decodeConfig(t, configLines("c", op, valueTOML)...)
	if rule == "error" {
		if err == nil {
			t.Errorf("%s: config accepted", name)
		}
		return
	}
	if err != nil && op == "matches" && strings.Contains(err.Error(), "bad regular expression") {
		if pattern, uerr := strconv.Unquote(valueTOML); uerr == nil {
			if _, rerr := regexp.Compile(pattern); rerr != nil {
				return // a value that is no pattern is refused, as it should be
			}
		}
	}
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	f, err := operators.NewFilter(cfg)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	value := cfg.Value
	if op == "in" || op == "not in" {
		value = value.([]any)[0]
	}
	rec := `{"other":1}`
	if fieldJSON != "" {
		rec = `{"other":1,"c":` + fieldJSON + `}`
	}
	wantPass, wantClass := referenceOutcome(groups, rule, op, decodeJSON(t, fieldJSON), value)
	out := f.Apply([]plugin.Record{{Value: []byte(rec)}}, nil, nil)
	st := f.Stats()
	gotClass := ""
	switch {
	case st.Missing == 1:
		gotClass = "missing"
	case st.TypeMismatch == 1:
		gotClass = "mismatch"
	}
	if got := len(out) == 1; got != wantPass || gotClass != wantClass || st.Seen != 1 || st.Passed != int64(len(out)) || st.Missing+st.TypeMismatch > 1 {
		t.Errorf("%s: passes %v, counted %+v; want passes %v, counted %q", name, got, st, wantPass, wantClass)
	}
	if f.Match([]byte(rec)) != wantPass {
		t.Errorf("%s: Match disagrees with Apply", name)
	}
}

func orMissing(s string) string {
	if s == "" {
		return "(missing)"
	}
	return s
}

func decodeJSON(t *testing.T, s string) any {
	if s == "" {
		return nil
	}
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("example %s: %v", s, err)
	}
	return v
}

// checkTableExamples checks that every example is of the kind its row or
// column names, as the reference classifies it, so a cell is tested on
// what it documents.
func checkTableExamples(t *testing.T, fields, values []operators.TableKind) {
	for i, k := range fields {
		for _, x := range k.Examples {
			if got := refKind(decodeJSON(t, x)); got != i {
				t.Errorf("field example %s is a %s, listed as %s", x, fields[got].Name, k.Name)
			}
		}
	}
	for i, k := range values {
		for _, x := range k.Examples {
			cfg, err := decodeConfig(t, configLines("c", "==", x)...)
			if err != nil {
				t.Fatal(err)
			}
			if got := refKind(cfg.Value); got != i {
				t.Errorf("value example %s is a %s, listed as %s", x, fields[got].Name, k.Name)
			}
		}
	}
	if fields[len(fields)-1].Name != "missing" {
		t.Fatal("the last kind of field is not missing")
	}
}

// The reference. Kinds are indexes into the table's field kinds; a value's
// kinds are the first five of them.
const (
	kNumber = iota
	kNumericString
	kBoolString
	kOtherString
	kBoolean
	kNull
	kArray
	kObject
	kMissing
)

// refKind classifies a decoded field (encoding/json with UseNumber) or
// value (as TOML gives it).
func refKind(x any) int {
	switch v := x.(type) {
	case json.Number, int64, float64:
		return kNumber
	case string:
		if _, ok := refNum(v); ok {
			return kNumericString
		}
		if v == "true" || v == "false" {
			return kBoolString
		}
		return kOtherString
	case bool:
		return kBoolean
	case nil:
		return kNull
	case []any:
		return kArray
	case map[string]any:
		return kObject
	}
	panic(fmt.Sprintf("refKind(%T)", x))
}

// refNum reads a number, or a string holding one (spaces around it, out of
// range as ±Inf, NaN not a number).
func refNum(x any) (float64, bool) {
	var s string
	switch v := x.(type) {
	case int64:
		return float64(v), true
	case float64:
		return v, true
	case json.Number:
		s = string(v)
	case string:
		s = strings.TrimSpace(v)
	default:
		return 0, false
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil && !isRange(err) {
		return 0, false
	}
	return n, !math.IsNaN(n)
}

// refText is a value's text for contains.
func refText(x any) string {
	switch v := x.(type) {
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	return x.(string)
}

// refOutcome applies a rule to a present field: eq for == (and contains),
// order for > >= < <=, mismatch when the rule is one.
type refOutcome struct {
	eq, mismatch bool
	order        int
}

func refCompare(groups []operators.TableGroup, rule string, field, value any) refOutcome {
	switch rule {
	case "number":
		a, _ := refNum(field)
		b, _ := refNum(value)
		return refOutcome{eq: a == b, order: cmp.Compare(a, b)}
	case "text":
		a, b := field.(string), value.(string)
		return refOutcome{eq: a == b, order: strings.Compare(a, b)}
	case "boolean":
		return refOutcome{eq: fmt.Sprint(field) == fmt.Sprint(value)}
	case "null":
		return refOutcome{eq: value == "null", mismatch: value != "null"}
	case "substring":
		return refOutcome{eq: strings.Contains(field.(string), refText(value))}
	case "regex":
		return refOutcome{eq: regexp.MustCompile(value.(string)).MatchString(field.(string))}
	case "element":
		for _, el := range field.([]any) {
			if refCompare(groups, groups[1].Rules[refKind(el)][refKind(value)], el, value).eq {
				return refOutcome{eq: true}
			}
		}
		return refOutcome{}
	case "mismatch":
		return refOutcome{mismatch: true}
	}
	panic("unknown rule " + rule)
}

// referenceOutcome is whether a record passes and how it is counted
// ("missing", "mismatch" or "").
func referenceOutcome(groups []operators.TableGroup, rule, op string, field, value any) (bool, string) {
	if rule == "missing" {
		return false, "missing"
	}
	o := refCompare(groups, rule, field, value)
	class := ""
	if o.mismatch {
		class = "mismatch"
	}
	ordered := !o.mismatch
	switch op {
	case ">":
		return ordered && o.order > 0, class
	case ">=":
		return ordered && o.order >= 0, class
	case "<":
		return ordered && o.order < 0, class
	case "<=":
		return ordered && o.order <= 0, class
	case "!=", "<>", "not in", "not contains":
		return !o.eq, class
	}
	return o.eq, class // == = in contains
}

// TestFilterHelpInREADME keeps the README's copy of the table equal to
// what `conveyor info filter.apply` prints.
func TestFilterHelpInREADME(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	help := operators.FilterSpec().Doc
	if help == "" || help != operators.Help() {
		t.Fatal("filter.apply's Doc is not the rendered table")
	}
	if !bytes.Contains(readme, []byte("```\n"+help+"```\n")) {
		t.Errorf("README.md lacks the table of `conveyor info filter.apply` in a code block; it is:\n%s", help)
	}
}
