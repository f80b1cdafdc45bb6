package record

import (
	"testing"

	"github.com/tidwall/gjson"
)

// Fields.Peek gives what Path.Peek gives for each column, whether it reads
// the record in one pass or falls back to gjson.
func TestFieldsPeekIsPathPeek(t *testing.T) {
	recs := []string{
		`{"country":"DE","amount":12.07,"event_ms":1795608000013}`,
		`{"amount":"3.5","country":"F\u00e9","event_ms":"2026-12-07T00:00:00Z"}`,
		`{"country":"DE","country":"FR","amount":null}`,
		`{"c\u006funtry":"DE","amount":1}`,
		` { "country" : "DE" , "nested" : {"amount":2,"x":[1,{"y":"}"}]}, "amount" : -0.5e3 } `,
		`{"country":true,"amount":[1,2],"event_ms":{"a":1}}`,
		`{}`, `[]`, `not json`, ``, `{"country":"DE"`, `{"country":"DE",}`, `{"amount":1} trailing`,
		`{"country":"a\"b","amount":01}`, `{"":1,"country":"DE"}`,
		`{"amount":123456789012345,"country":-0.000000000000001,"event_ms":1795608000013.5}`,
		`{"amount":1234567890123456,"country":-0,"event_ms":0.1}`, `{"amount":1.,"country":-,"event_ms":.5}`,
		`{"amount":9007199254740993,"country":1e400,"event_ms":-12.070}`,
	}
	for _, cols := range [][]string{{"country", "amount", "event_ms"}, {"country", "nested.amount", "amount"}, {"event_ms", "event_ms", "missing"}, {"", "country", ""}, {""}} {
		f := CompileFields(cols...)
		got := make([]gjson.Result, f.Len())
		for _, rec := range recs {
			f.Peek([]byte(rec), got)
			for i, c := range cols {
				want := CompilePath(c).Peek([]byte(rec))
				g := got[i]
				if g.Type != want.Type || g.Raw != want.Raw || g.Str != want.Str || g.Num != want.Num || g.Exists() != want.Exists() {
					t.Errorf("%s in %s: got %+v, want %+v", c, rec, g, want)
				}
			}
		}
	}
}

// Reading three top-level fields allocates nothing.
func TestFieldsPeekAllocs(t *testing.T) {
	f := CompileFields("country", "amount", "event_ms")
	rec := []byte(`{"event_id":"e-1","user_id":7,"amount":12.07,"currency":"EUR","country":"DE","event_ms":1795608000013}`)
	got := make([]gjson.Result, f.Len())
	if n := testing.AllocsPerRun(100, func() { f.Peek(rec, got) }); n != 0 {
		t.Fatalf("%v allocations per record", n)
	}
	if got[0].Str != "DE" || got[1].Raw != "12.07" || got[2].Int() != 1795608000013 {
		t.Fatalf("got %v", got)
	}
}
