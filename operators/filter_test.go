package operators_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/operators"
	"github.com/conveyor-etl/conveyor/plugin"
)

// filterDoc is a two-stage pipeline whose filter stage (index 1) has its
// [stages.config] keys from line 10.
func filterDoc(configLines ...string) []byte {
	return []byte(strings.Join(append([]string{
		`[[stages]]`,                // 1
		`id = "src"`,                // 2
		`function = "json.read"`,    // 3
		`inputs = []`,               // 4
		`[[stages]]`,                // 5
		`id = "f"`,                  // 6
		`function = "filter.apply"`, // 7
		`inputs = ["src"]`,          // 8
		`[stages.config]`,           // 9
	}, configLines...), "\n") + "\n")
}

// buildFilter parses a pipeline holding the filter config, decodes it the
// way the runtime does (so value has the types TOML gives: int64, float64,
// string, bool, []any) and builds the filter.
func buildFilter(t testing.TB, configLines ...string) (*operators.Filter, error) {
	t.Helper()
	cfg, err := decodeConfig(t, configLines...)
	if err != nil {
		return nil, err
	}
	return operators.NewFilter(cfg)
}

// decodeConfig decodes the filter config of filterDoc.
func decodeConfig(t testing.TB, configLines ...string) (*operators.FilterConfig, error) {
	t.Helper()
	p, err := config.Parse("p.toml", filterDoc(configLines...))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	cfg, err := plugin.DecodeConfig(operators.FilterSpec().Operator, &p.Stages[1])
	return cfg.(*operators.FilterConfig), err
}

// configLines are the config of a filter on column with op and value (TOML).
func configLines(column, op, value string) []string {
	return []string{fmt.Sprintf("column = %q", column), fmt.Sprintf("operator = %q", op), "value = " + value}
}

func mustFilter(t testing.TB, column, op, value string) *operators.Filter {
	t.Helper()
	f, err := buildFilter(t, configLines(column, op, value)...)
	if err != nil {
		t.Fatalf("filter %s %s %s: %v", column, op, value, err)
	}
	return f
}

// record has a field of every JSON type, numeric strings and nesting.
const record = `{
	"amount": 150, "amount_str": "150", "price": "99.5", "code": "007",
	"neg": -3, "zero": 0, "float": 1.5, "big": 1e3,
	"name": "alice", "empty": "", "note": "hello world",
	"active": true, "off": false, "nothing": null,
	"tags": ["a", "b", "vip"], "nums": [1, 2, 3],
	"user": {"id": 7, "tier": "gold", "geo": {"cc": "DE"}}
}`

func TestFilterMatch(t *testing.T) {
	tests := []struct {
		column, op, value string // value as TOML
		want              bool
	}{
		// == and its alias =, on a numeric field.
		{"amount", "==", `150`, true},
		{"amount", "==", `"150"`, true}, // a numeric string compares as a number with a numeric field
		{"amount", "==", `150.0`, true},
		{"amount", "==", `"150.0"`, true},
		{"amount", "==", `151`, false},
		{"amount", "==", `"abc"`, false},
		{"amount", "==", `true`, false},
		{"amount", "=", `150`, true},
		{"amount", "=", `"151"`, false},
		{"big", "==", `1000`, true},
		{"float", "==", `1.5`, true},
		{"float", "==", `"1.5"`, true},
		{"neg", "==", `-3`, true},
		// != and its alias <>.
		{"amount", "!=", `151`, true},
		{"amount", "!=", `150`, false},
		{"amount", "!=", `"150"`, false},
		{"amount", "<>", `"150"`, false},
		{"amount", "<>", `0`, true},
		// A string field against a string value compares as text; against a
		// number, as a number when the field holds one.
		{"name", "==", `"alice"`, true},
		{"name", "==", `'alice'`, true},
		{"name", "==", `"Alice"`, false},
		{"name", "!=", `"bob"`, true},
		{"name", "==", `5`, false},
		{"amount_str", "==", `"150"`, true},
		{"amount_str", "==", `150`, true},
		{"amount_str", "==", `"150.0"`, false}, // text: "150" is not "150.0"
		{"code", "==", `"7"`, false},           // text: ids keep leading zeros
		{"code", "==", `"007"`, true},
		{"code", "==", `7`, true}, // a number compares numerically
		{"empty", "==", `""`, true},
		{"empty", "!=", `""`, false},
		// Booleans.
		{"active", "==", `true`, true},
		{"active", "==", `"true"`, true},
		{"active", "==", `false`, false},
		{"active", "!=", `false`, true},
		{"active", "==", `1`, false}, // a number is not a boolean
		{"active", "==", `"yes"`, false},
		{"off", "==", `false`, true},
		{"off", "=", `"false"`, true},
		// null: equal only to the string "null".
		{"nothing", "==", `"null"`, true},
		{"nothing", "==", `""`, false},
		{"nothing", "==", `0`, false},
		{"nothing", "!=", `"x"`, true},
		{"nothing", ">=", `0`, false},
		// A missing column never passes, whatever the operator.
		{"missing", "==", `"x"`, false},
		{"missing", "!=", `"x"`, false},
		{"missing", "<>", `0`, false},
		{"missing", ">", `0`, false},
		{"missing", "<", `0`, false},
		{"missing", "contains", `""`, false},
		{"missing", "in", `["x", 0, true]`, false},
		{"user.missing", "!=", `"x"`, false},
		{"amount.x", "!=", `1`, false},
		// Nested columns and array indexes.
		{"user.id", "==", `7`, true},
		{"user.id", ">", `"6"`, true},
		{"user.tier", "==", `"gold"`, true},
		{"user.geo.cc", "==", `"DE"`, true},
		{"user.geo.cc", "!=", `"DE"`, false},
		{"tags.0", "==", `"a"`, true},
		{"nums.2", ">=", `3`, true},
		// Ordering: numbers numerically (numeric strings count) ...
		{"amount", ">", `100`, true},
		{"amount", ">", `150`, false},
		{"amount", ">=", `150`, true},
		{"amount", ">=", `"100"`, true}, // the spec's example
		{"amount", ">=", `"1e2"`, true},
		{"amount", "<", `200`, true},
		{"amount", "<", `150`, false},
		{"amount", "<=", `150`, true},
		{"amount", "<=", `149.99`, false},
		{"amount_str", ">", `"99"`, true}, // as text "150" < "99"; numeric wins
		{"amount_str", ">", `99`, true},
		{"price", "<", `100`, true},
		{"price", ">=", `"99.5"`, true},
		{"neg", "<", `0`, true},
		{"zero", ">=", `0`, true},
		{"zero", ">", `0`, false},
		// ... strings as text ...
		{"name", ">", `"aaa"`, true},
		{"name", "<", `"bob"`, true},
		{"name", ">=", `"alice"`, true},
		{"name", "<", `"Alice"`, false}, // byte order: "a" > "A"
		// ... and nothing else has an order.
		{"name", ">", `5`, false},
		{"name", "<", `5`, false},
		{"amount", ">", `"abc"`, false},
		{"tags", ">", `"a"`, false},
		{"user", ">", `1`, false},
		// contains: substring of a string field, element of an array field.
		{"note", "contains", `"world"`, true},
		{"note", "contains", `"World"`, false},
		{"note", "contains", `"lo wo"`, true},
		{"code", "contains", `0`, true},
		{"tags", "contains", `"vip"`, true},
		{"tags", "contains", `"v"`, false}, // elements compare whole
		{"tags", "contains", `"c"`, false},
		{"nums", "contains", `2`, true},
		{"nums", "contains", `"2"`, true},
		{"nums", "contains", `4`, false},
		{"amount", "contains", `15`, false}, // numbers are not searched
		{"user", "contains", `"gold"`, false},
		{"active", "contains", `"t"`, false},
		// in: equal to any element of a TOML array.
		{"name", "in", `["alice", "bob"]`, true},
		{"name", "in", `["bob", "carol"]`, false},
		{"amount", "in", `[100, 150]`, true},
		{"amount", "in", `["150", "200"]`, true},
		{"amount", "in", `[1.5, 150.0]`, true},
		{"amount", "in", `[149, 151]`, false},
		{"code", "in", `["007"]`, true},
		{"code", "in", `["7"]`, false},
		{"active", "in", `[true]`, true},
		{"active", "in", `["true"]`, true},
		{"off", "in", `[true]`, false},
		{"nothing", "in", `["null"]`, true},
		{"name", "in", `[1, "alice", true]`, true},
		{"tags", "in", `["a"]`, false}, // an array field is not an element
		{"user.tier", "in", `['gold', 'silver']`, true},
	}
	value := []byte(record)
	for _, tt := range tests {
		name := fmt.Sprintf("%s %s %s", tt.column, tt.op, tt.value)
		t.Run(name, func(t *testing.T) {
			f := mustFilter(t, tt.column, tt.op, tt.value)
			if got := f.Match(value); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestFilterValueTypes pins what TOML gives the filter, which the matching
// above relies on.
func TestFilterValueTypes(t *testing.T) {
	for toml, want := range map[string]string{
		`100`: "int64", `"100"`: "string", `1.5`: "float64", `true`: "bool",
		`[1, "a"]`: "[]interface {}", `1e3`: "float64",
	} {
		p, err := config.Parse("p.toml", filterDoc(`column = "a"`, `operator = "=="`, "value = "+toml))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := plugin.DecodeConfig(operators.FilterSpec().Operator, &p.Stages[1])
		if toml[0] == '[' {
			if err == nil {
				t.Errorf("array with == accepted")
			}
		} else if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprintf("%T", cfg.(*operators.FilterConfig).Value); got != want {
			t.Errorf("value = %s is %s, want %s", toml, got, want)
		}
	}
}

func TestFilterRecordsNotObjects(t *testing.T) {
	f := mustFilter(t, "a", "!=", `"x"`)
	for _, v := range []string{``, `null`, `[1,2]`, `"a"`, `42`, `{"a":`, `not json`} {
		if f.Match([]byte(v)) {
			t.Errorf("Match(%q) = true", v)
		}
	}
}

func TestFilterSpecialColumnNames(t *testing.T) {
	// gjson's special characters in a column are literal.
	f := mustFilter(t, "a*", "==", `1`)
	if f.Match([]byte(`{"ab":1}`)) || !f.Match([]byte(`{"a*":1}`)) {
		t.Error("a* is a wildcard")
	}
	f = mustFilter(t, "x|y", "==", `1`)
	if !f.Match([]byte(`{"x|y":1}`)) {
		t.Error("x|y not literal")
	}
}

func TestFilterConfigErrors(t *testing.T) {
	const c, o = `column = "event"`, `operator = "in"` // lines 10 and 11
	tests := []struct {
		name  string
		lines []string
		want  string
	}{
		{"in without an array",
			[]string{c, o, `value = "purchase,refund"`},
			`p.toml:12:1: stages[1] "f" config.value: operator in wants an array, such as ["a", "b"]`},
		{"in with a number",
			[]string{c, o, `value = 5`},
			`p.toml:12:1: stages[1] "f" config.value: operator in wants an array, such as ["a", "b"]`},
		{"array without in",
			[]string{c, `operator = "=="`, `value = ["purchase", "refund"]`},
			`p.toml:12:1: stages[1] "f" config.value: an array is only allowed with operators in and not in`},
		{"array with contains",
			[]string{c, `operator = "contains"`, `value = ["a"]`},
			`p.toml:12:1: stages[1] "f" config.value: an array is only allowed with operators in and not in`},
		{"table value",
			[]string{c, `operator = "=="`, `value = { a = 1 }`},
			`p.toml:12:1: stages[1] "f" config.value: want a string, number or boolean, not a table`},
		{"nested array in in",
			[]string{c, o, `value = ["a", ["b"]]`},
			`p.toml:12:1: stages[1] "f" config.value: element 1 of the array must be a string, number or boolean`},
		{"table in in",
			[]string{c, o, `value = [{ a = 1 }]`},
			`p.toml:12:1: stages[1] "f" config.value: element 0 of the array must be a string, number or boolean`},
		{"nan value",
			[]string{c, `operator = ">="`, `value = nan`},
			`p.toml:12:1: stages[1] "f" config.value: nan compares with nothing; want a number`},
		{"empty in list",
			[]string{c, o, `value = []`},
			`p.toml:12:1: stages[1] "f" config.value: operator in wants at least one value; an empty list matches nothing`},
		{"boolean with >=",
			[]string{c, `operator = ">="`, `value = true`},
			`p.toml:12:1: stages[1] "f" config.value: operator >= orders numbers and text, not booleans; use == or !=`},
		{"empty column",
			[]string{`column = " "`, `operator = "=="`, `value = 1`},
			`p.toml:10:1: stages[1] "f" config.column: must not be empty`},
		{"operator =>",
			[]string{c, `operator = "=>"`, `value = 1`},
			`p.toml:11:1: stages[1] "f" config.operator: unknown value "=>" (want one of ==, =, !=, <>, >, >=, <, <=, contains, not contains, in, not in, matches, exists, not exists) (did you mean ">="?)`},
		{"operator contain",
			[]string{c, `operator = "contain"`, `value = 1`},
			`p.toml:11:1: stages[1] "f" config.operator: unknown value "contain" (want one of ==, =, !=, <>, >, >=, <, <=, contains, not contains, in, not in, matches, exists, not exists) (did you mean "contains"?)`},
		{"operator like",
			[]string{c, `operator = "like"`, `value = 1`},
			`p.toml:11:1: stages[1] "f" config.operator: unknown value "like" (want one of ==, =, !=, <>, >, >=, <, <=, contains, not contains, in, not in, matches, exists, not exists)`},
		{"operator not a string",
			[]string{c, `operator = 1`, `value = 1`},
			`p.toml:11:1: stages[1] "f" config.operator: want a string, got an integer 1`},
		{"missing value",
			[]string{c, `operator = ">="`},
			`p.toml:5:1: stages[1] "f" config.value: missing: operator >= needs a value to compare with (a string, number or boolean; an array for in and not in)`},
		{"unknown key",
			[]string{c, `operator = ">="`, `value = 1`, `colum = "x"`},
			`p.toml:13:1: stages[1] "f" config.colum: unknown key (did you mean "column"?)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := buildFilter(t, tt.lines...)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error:\n  got:  %v\n  want: %s", err, tt.want)
			}
			if f != nil {
				t.Error("a filter was built")
			}
		})
	}
}

func TestNewFilterValidates(t *testing.T) {
	for _, c := range []*operators.FilterConfig{
		{Column: "a", Operator: "in", Value: "x"},
		{Column: "a", Operator: "==", Value: []any{"x"}},
		{Column: "", Operator: "==", Value: "x"},
		{Column: "a", Operator: "like", Value: "x"},
		{Column: "a", Operator: "<", Value: false},
	} {
		if _, err := operators.NewFilter(c); err == nil {
			t.Errorf("NewFilter(%+v) accepted", *c)
		}
	}
}

func TestFilterApply(t *testing.T) {
	f := mustFilter(t, "amount", ">=", `"100"`)
	in := []plugin.Record{
		{Value: []byte(`{"amount":150}`), Offset: 0},
		{Value: []byte(`{"amount":50}`), Offset: 1},
		{Value: []byte(`{"amount":"100"}`), Offset: 2},
		{Value: []byte(`{"other":1}`), Offset: 3},
		{Value: []byte(`{"amount":100.5}`), Offset: 4},
	}
	out := f.Apply(in, make([]plugin.Record, 0, len(in)), func(int, error) { t.Error("fail called") })
	var offsets []int64
	for _, r := range out {
		offsets = append(offsets, r.Offset)
	}
	if fmt.Sprint(offsets) != "[0 2 4]" {
		t.Fatalf("kept offsets %v", offsets)
	}
	if &out[0].Value[0] != &in[0].Value[0] {
		t.Error("Apply copied the record")
	}
}

// benchRecord is a typical ~150-byte event.
var benchRecord = []byte(`{"event_id":"evt-000123","user_id":42,"event":"purchase","amount":150,"currency":"EUR","ts":1704067200000,"country":"DE","device":"web"}`)

func BenchmarkFilter(b *testing.B) {
	f := mustFilter(b, "amount", ">=", `"100"`)
	if !f.Match(benchRecord) {
		b.Fatal("benchmark record does not match")
	}
	b.SetBytes(int64(len(benchRecord)))
	b.ReportAllocs()
	for b.Loop() {
		f.Match(benchRecord)
	}
}

func BenchmarkFilterApply(b *testing.B) {
	f := mustFilter(b, "event", "in", `["purchase", "refund"]`)
	in := make([]plugin.Record, 1000)
	for i := range in {
		in[i] = plugin.Record{Value: benchRecord, Offset: int64(i)}
	}
	out := make([]plugin.Record, 0, len(in))
	b.SetBytes(int64(len(benchRecord) * len(in)))
	b.ReportAllocs()
	for b.Loop() {
		out = f.Apply(in, out[:0], nil)
	}
	if len(out) != len(in) {
		b.Fatalf("kept %d of %d", len(out), len(in))
	}
}

// TestFilterNumericValueOrdersOnlyNumbers is issue 8 item 11: with a
// numeric value, > >= < <= pass only numbers and numeric strings; text that
// is not a number never passes, whatever its byte order.
func TestFilterNumericValueOrdersOnlyNumbers(t *testing.T) {
	for _, value := range []string{`"100"`, `100`, `100.0`, `" 1e2 "`} {
		for _, op := range []string{">", ">=", "<", "<="} {
			f := mustFilter(t, "amount", op, value)
			for _, field := range []string{`"n/a"`, `"pending"`, `"1,000"`, `"abc"`, `""`, `"NaN"`, `"~"`, `" "`, `null`, `true`, `false`, `[150]`, `{"v":150}`} {
				if f.Match([]byte(`{"amount":` + field + `}`)) {
					t.Errorf("amount %s %s passes amount = %s", op, value, field)
				}
			}
		}
	}
}
