package operators_test

import (
	"context"
	"strings"
	"testing"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/operators"
	"github.com/conveyor-etl/conveyor/plugin"
)

// buildOp decodes a stage of function with the TOML config lines the way
// the runtime does (the registry's spec, DecodeStage, Validate) and builds
// it; the error is the decode's, with file:line:col.
func buildOp(t testing.TB, function string, lines ...string) (plugin.Operator, error) {
	t.Helper()
	doc := strings.Join(append([]string{`[[stages]]`, `id = "src"`, `function = "json.read"`, `inputs = []`,
		`[[stages]]`, `id = "op"`, `function = "` + function + `"`, `inputs = ["src"]`, `[stages.config]`}, lines...), "\n") + "\n"
	p, err := config.Parse("p.toml", []byte(doc))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	spec, ok := plugin.Default().Lookup(function)
	if !ok {
		t.Fatalf("%s is not registered", function)
	}
	cfg, err := plugin.DecodeConfig(spec.Operator, &p.Stages[1])
	if err != nil {
		return nil, err
	}
	return spec.Operator.Build(context.Background(), cfg, plugin.Env{Stage: &p.Stages[1]})
}

func mustOp(t testing.TB, function string, lines ...string) plugin.Operator {
	t.Helper()
	op, err := buildOp(t, function, lines...)
	if err != nil {
		t.Fatalf("%s %v: %v", function, lines, err)
	}
	return op
}

// applyOne applies op to one record: its output (one line per record), or
// the error it failed the record with.
func applyOne(op plugin.Operator, rec string) (string, string) {
	var errMsg string
	out := op.Apply([]plugin.Record{{Value: []byte(rec)}}, nil, func(_ int, err error) { errMsg = err.Error() })
	var lines []string
	for _, r := range out {
		lines = append(lines, string(r.Value))
	}
	return strings.Join(lines, "\n"), errMsg
}

type opCase struct {
	name, function string
	config         []string
	in, want       string // want "" when the record is dropped or failed
	err            string // part of the failure's message
}

// TestOperatorsOutput checks each operator's exact output bytes.
func TestOperatorsOutput(t *testing.T) {
	const rec = `{"id":1,"user_id":"u1","amount":150,"price":"2.5","qty":4,"note":"n","address":{"country":"fr","zip":"75001"},"_kafka_key":"u1","_kafka_partition":0,"_kafka_offset":9}`
	cases := []opCase{
		{"expr keeps", "filter.expr", []string{`condition = "amount >= 100 && !(address.country matches '^X')"`}, rec, rec, ""},
		{"expr drops", "filter.expr", []string{`condition = "amount >= 200"`}, rec, "", ""},
		{"expr missing", "filter.expr", []string{`condition = "nope != 1"`}, rec, "", ""},

		{"drop", "fields.drop", []string{`fields = ["note", "_kafka_*"]`}, rec,
			`{"id":1,"user_id":"u1","amount":150,"price":"2.5","qty":4,"address":{"country":"fr","zip":"75001"}}`, ""},
		{"drop nested", "fields.drop", []string{`fields = ["address.zip"]`}, rec,
			`{"id":1,"user_id":"u1","amount":150,"price":"2.5","qty":4,"note":"n","address":{"country":"fr"},"_kafka_key":"u1","_kafka_partition":0,"_kafka_offset":9}`, ""},
		{"drop nothing", "fields.drop", []string{`fields = ["nope", "x*"]`}, rec, rec, ""},
		{"drop keeps bytes", "fields.drop", []string{`fields = ["nope"]`}, `{"a": 1,  "b":"\u00e9"}`, `{"a": 1,  "b":"\u00e9"}`, ""},
		{"drop all", "fields.drop", []string{`fields = ["*"]`}, rec, `{}`, ""},
		{"drop wrapped", "fields.drop", []string{`fields = ["_kafka_*"]`}, `{"_kafka_payload":"not json","_kafka_key":null}`, `{}`, ""},

		{"select", "fields.select", []string{`fields = ["id", "user_id", "amount", "address.country"]`}, rec,
			`{"id":1,"user_id":"u1","amount":150,"address":{"country":"fr"}}`, ""},
		{"select order", "fields.select", []string{`fields = ["amount", "address.zip", "id", "address.country"]`}, rec,
			`{"amount":150,"address":{"zip":"75001","country":"fr"},"id":1}`, ""},
		{"select missing", "fields.select", []string{`fields = ["id", "nope", "address.city"]`}, rec, `{"id":1}`, ""},
		{"select none", "fields.select", []string{`fields = ["nope"]`}, rec, `{}`, ""},

		{"rename", "fields.rename", []string{`rename = { user_id = "uid", "address.country" = "country" }`}, rec,
			`{"id":1,"uid":"u1","amount":150,"price":"2.5","qty":4,"note":"n","address":{"zip":"75001"},"_kafka_key":"u1","_kafka_partition":0,"_kafka_offset":9,"country":"fr"}`, ""},
		{"rename onto existing", "fields.rename", []string{`rename = { note = "id" }`}, rec,
			`{"user_id":"u1","amount":150,"price":"2.5","qty":4,"id":"n","address":{"country":"fr","zip":"75001"},"_kafka_key":"u1","_kafka_partition":0,"_kafka_offset":9}`, ""},
		{"rename in order", "fields.rename", []string{`rename = { id = "a", a = "b" }`}, `{"id":1}`, `{"b":1}`, ""},
		{"rename missing", "fields.rename", []string{`rename = { nope = "x" }`}, rec, rec, ""},
		{"rename into object", "fields.rename", []string{`rename = { note = "meta.note" }`}, `{"note":"n","meta":{"a":1}}`, `{"meta":{"a":1,"note":"n"}}`, ""},

		{"set", "fields.set", []string{`set = { total = "price * qty", source = "'web'", country = "upper(address.country)" }`}, `{"price":"2.5","qty":4,"address":{"country":"fr"}}`,
			`{"price":"2.5","qty":4,"address":{"country":"fr"},"total":10,"source":"web","country":"FR"}`, ""},
		{"set in order", "fields.set", []string{`set = { b = "a + 1", c = "b * 2", a = "0" }`}, `{"a":1}`, `{"a":0,"b":2,"c":4}`, ""},
		{"set replaces in place", "fields.set", []string{`set = { amount = "amount * 2" }`}, `{"id":1,"amount":150,"z":0}`, `{"id":1,"amount":300,"z":0}`, ""},
		{"set nested", "fields.set", []string{`set = { "address.cc" = "upper(address.country)" }`}, `{"address":{"country":"fr"}}`, `{"address":{"country":"fr","cc":"FR"}}`, ""},
		{"set missing sets nothing", "fields.set", []string{`set = { total = "nope * 2", x = "coalesce(nope, 'd')" }`}, `{"a":1}`, `{"a":1,"x":"d"}`, ""},
		{"set not an object", "fields.set", []string{`set = { x = "1" }`}, `[1]`, "", "not a JSON object"},

		{"extract", "json.extract", []string{`field = "payload"`}, `{"id":1,"payload":"{\"a\": 1, \"id\": 2}"}`, `{"a":1,"id":2}`, ""},
		{"extract keep", "json.extract", []string{`field = "payload"`, `keep = true`}, `{"id":1,"payload":"{\"a\":1}"}`, `{"id":1,"payload":"{\"a\":1}","a":1}`, ""},
		{"extract into", "json.extract", []string{`field = "payload"`, `into = "p"`}, `{"id":1,"payload":"[1, 2]"}`, `{"id":1,"p":[1,2]}`, ""},
		{"extract not JSON", "json.extract", []string{`field = "payload"`}, `{"id":1,"payload":"{oops"}`, "", `payload does not hold a JSON document: "{oops"`},
		{"extract not object", "json.extract", []string{`field = "payload"`}, `{"id":1,"payload":"[1]"}`, "", "not an object"},
		{"extract number", "json.extract", []string{`field = "payload"`}, `{"id":1,"payload":5}`, "", "payload is a number"},
		{"extract missing", "json.extract", []string{`field = "payload"`}, `{"id":1}`, `{"id":1}`, ""},
		{"extract kafka payload", "json.extract", []string{`field = "_kafka_payload"`}, `{"_kafka_payload":"{\"a\":1}","_kafka_key":"k"}`, `{"_kafka_key":"k","a":1}`, ""},
	}
	for _, c := range cases {
		op := mustOp(t, c.function, c.config...)
		got, errMsg := applyOne(op, c.in)
		if got != c.want || !strings.Contains(errMsg, c.err) || (c.err == "") != (errMsg == "") {
			t.Errorf("%s: %s %v on %s\n got %s (error %q)\nwant %s (error %q)", c.name, c.function, c.config, c.in, got, errMsg, c.want, c.err)
		}
	}
}

// An unchanged record is the same bytes: not a copy.
func TestUnchangedIsSameSlice(t *testing.T) {
	for _, c := range [][]string{{"fields.drop", `fields = ["nope"]`}, {"fields.rename", `rename = { nope = "x" }`}, {"json.extract", `field = "nope"`}} {
		op := mustOp(t, c[0], c[1])
		in := []plugin.Record{{Value: []byte(`{"a":1}`)}}
		out := op.Apply(in, nil, nil)
		if len(out) != 1 || &out[0].Value[0] != &in[0].Value[0] {
			t.Errorf("%s copied an unchanged record", c[0])
		}
	}
}

// A bad config is reported at the file's line and column with its key, and
// a bad expression with the column inside it.
func TestOperatorConfigErrors(t *testing.T) {
	for _, c := range []struct {
		function string
		lines    []string
		want     string
	}{
		{"filter.expr", []string{`condition = "amount >= "`}, `p.toml:10:1: stages[1] "op" config.condition: column 10 of the expression: unexpected token EOF`},
		{"filter.expr", []string{`condition = "x matches '('"`}, `config.condition: column 11 of the expression: bad regular expression (RE2 syntax)`},
		{"filter.expr", []string{`condition = "lowr(x) == 'a'"`}, `unknown function lowr`},
		{"filter.expr", nil, `missing required key`},
		{"fields.set", []string{`set = { total = "price *", ok = "1" }`}, `config.set: total = "price *": column 7 of the expression: unexpected token EOF`},
		{"fields.drop", []string{`fields = ["a*b"]`}, `* may only end the name`},
		{"fields.select", []string{`fields = ["a*"]`}, `* is for fields.drop only`},
		{"fields.select", []string{`fields = ["a", "a.b"]`}, `"a.b" is inside "a"`},
		{"fields.rename", []string{`rename = { a = "a" }`}, `renames a field to itself`},
		{"json.extract", []string{`field = "a..b"`}, `not a field name`},
	} {
		_, err := buildOp(t, c.function, c.lines...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v: %v, want %q", c.function, c.lines, err, c.want)
		}
	}
}

// filter.expr and filter.apply count the same records as missing and as
// mismatches, on the same comparison.
func TestFilterExprCountsLikeFilterApply(t *testing.T) {
	recs := records(`{"amount":150}`, `{"amount":"150"}`, `{"amount":"n/a"}`, `{"x":1}`, `{"amount":true}`, `{"amount":[1]}`, `{"amount":50}`)
	apply := mustOp(t, "filter.apply", `column = "amount"`, `operator = ">="`, `value = 100`).(*operators.Filter)
	ex := mustOp(t, "filter.expr", `condition = "amount >= 100"`).(*operators.FilterExpr)
	a, e := apply.Apply(recs, nil, nil), ex.Apply(recs, nil, nil)
	if len(a) != len(e) || apply.Stats() != ex.Stats() {
		t.Errorf("filter.apply passed %d, %+v; filter.expr %d, %+v", len(a), apply.Stats(), len(e), ex.Stats())
	}
	if st := ex.Stats(); st.Passed != 2 || st.Missing != 1 || st.TypeMismatch != 3 {
		t.Errorf("%+v", st)
	}
}

// exists and not exists test only whether the record has the column, null
// included, and count nothing.
func TestFilterExists(t *testing.T) {
	recs := records(`{"a":1}`, `{"a":null}`, `{"b":1}`, `{"a":{"b":2}}`)
	for _, c := range []struct {
		op, column string
		want       int
	}{{"exists", "a", 3}, {"not exists", "a", 1}, {"exists", "a.b", 1}, {"not exists", "a.b", 3}} {
		f := mustOp(t, "filter.apply", `column = "`+c.column+`"`, `operator = "`+c.op+`"`).(*operators.Filter)
		if out := f.Apply(recs, nil, nil); len(out) != c.want || f.Stats().Missing+f.Stats().TypeMismatch != 0 {
			t.Errorf("%s %s: passed %d (%+v), want %d", c.column, c.op, len(out), f.Stats(), c.want)
		}
	}
	if _, err := buildOp(t, "filter.apply", `column = "a"`, `operator = "exists"`, `value = 1`); err == nil || !strings.Contains(err.Error(), "takes no value") {
		t.Errorf("exists with a value: %v", err)
	}
	if _, err := buildOp(t, "filter.apply", `column = "a"`, `operator = "=="`); err == nil || !strings.Contains(err.Error(), "missing: operator == needs a value") {
		t.Errorf("== without a value: %v", err)
	}
	if _, err := buildOp(t, "filter.apply", `column = "a"`, `operator = "matches"`, `value = "("`); err == nil || !strings.Contains(err.Error(), "bad regular expression") {
		t.Errorf("matches with a bad pattern: %v", err)
	}
}
