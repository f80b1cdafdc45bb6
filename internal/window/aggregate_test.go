package window

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestParseSetErrors(t *testing.T) {
	_, err := ParseSet(map[string]string{
		"a": "cout()", "b": "sum()", "c": "sum(amount", "d": "max(a + b)", "e": "count()", "f": "avg(x..y)",
	})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`aggregates.a: unknown function "cout" in "cout()" (did you mean "count"?)`,
		`aggregates.b: sum() needs a field, as in sum(amount)`,
		`aggregates.c: "sum(amount" is not a function call like sum(amount)`,
		`aggregates.d: "max(a + b)": field "a + b": ' ' is not allowed`,
		`aggregates.f: "avg(x..y)": field "x..y" has an empty name between dots`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "aggregates.e") {
		t.Errorf("count() rejected: %v", err)
	}
	if _, err := ParseSet(nil); err == nil {
		t.Error("an empty table was accepted")
	}
}

func results(t *testing.T, table map[string]string, recs ...string) string {
	t.Helper()
	set, err := ParseSet(table)
	if err != nil {
		t.Fatal(err)
	}
	st := set.New()
	for i, r := range recs {
		set.Add(st, []byte(r), int64(i))
	}
	return string(set.AppendJSON(nil, st))
}

func TestAggregateResults(t *testing.T) {
	table := map[string]string{
		"n": "count()", "has": "count(amount)", "sum": "sum(amount)", "min": "min(amount)", "max": "max(amount)",
		"avg": "avg(amount)", "first": "first(user)", "last": "last(user)", "users": "count_distinct(user)",
	}
	got := results(t, table,
		`{"amount":12.34,"user":"a"}`, `{"amount":0.66,"user":"b"}`, `{"amount":"7","user":"a"}`,
		`{"amount":null,"user":"c"}`, `{"user":1}`, `{"amount":-3,"user":"1"}`)
	want := `"avg":4.25,"first":"a","has":4,"last":"1","max":12.34,"min":-3,"n":6,"sum":17.00,"users":5`
	if got != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
	// A numeric string compares as a number; other strings sort above
	// numbers, by their bytes.
	if got := results(t, map[string]string{"m": "max(x)"}, `{"x":5}`, `{"x":"4"}`); got != `"m":5` {
		t.Errorf("max with a numeric string: %s", got)
	}
	if got := results(t, map[string]string{"m": "max(x)", "l": "min(x)"}, `{"x":5}`, `{"x":"b"}`, `{"x":"a"}`, `{"x":true}`); got != `"l":5,"m":"b"` {
		t.Errorf("min and max with strings: %s", got)
	}
	if got := results(t, map[string]string{"s": "sum(x)", "a": "avg(x)", "m": "min(x)", "f": "first(x)", "n": "count()"}); got != `"a":null,"f":null,"m":null,"n":0,"s":null` {
		t.Errorf("no records: %s", got)
	}
}

func TestSumIsExact(t *testing.T) {
	cases := []struct {
		in   []string
		want string
	}{
		{[]string{"1", "2", "9007199254740993"}, "9007199254740996"}, // beyond float64's 2^53
		{[]string{"0.1", "0.2"}, "0.3"},
		{[]string{"12.34", "0.66"}, "13.00"},
		{[]string{"1.5", "-1.5"}, "0.0"},
		{[]string{"-0.05", "0.01"}, "-0.04"},
		{[]string{"999999999999999999", "999999999999999999"}, "1999999999999999998"},
		{[]string{"999999999999999999", "0.5"}, "1000000000000000000"}, // rescaling overflows: float64
		{[]string{"9223372036854775807", "1"}, "9223372036854776000"},  // 19 digits: float64
		{[]string{"1e3", "1"}, "1001"},
	}
	for _, c := range cases {
		var recs []string
		for _, v := range c.in {
			recs = append(recs, `{"x":`+v+`}`)
		}
		if got := results(t, map[string]string{"s": "sum(x)"}, recs...); got != `"s":`+c.want {
			t.Errorf("sum of %v: %s, want %s", c.in, got, c.want)
		}
	}
	// The float64 fallback of a sum past int64 is approximate, and says so
	// in the doc; an overflowed exact sum must never wrap around.
	if got := results(t, map[string]string{"s": "sum(x)"}, `{"x":9223372036854775807}`, `{"x":9223372036854775807}`); strings.HasPrefix(got, `"s":-`) {
		t.Errorf("overflow wrapped: %s", got)
	}
}

// TestStateOrderIndependent: whatever order records come in, and however
// they are split into states merged later (sessions), the encoded state and
// the results are the same.
func TestStateOrderIndependent(t *testing.T) {
	set, err := ParseSet(map[string]string{
		"n": "count()", "sum": "sum(amount)", "min": "min(amount)", "max": "max(amount)", "avg": "avg(amount)",
		"first": "first(user)", "last": "last(user)", "users": "count_distinct(user)",
	})
	if err != nil {
		t.Fatal(err)
	}
	type rec struct {
		b []byte
		t int64
	}
	r := rand.New(rand.NewPCG(1, 2))
	var recs []rec
	for range 500 {
		b := []byte(`{"amount":` + []string{"1.25", "3", "-7.5", "0.125", "100"}[r.IntN(5)] +
			`,"user":"u` + string(rune('a'+r.IntN(20))) + `"}`)
		recs = append(recs, rec{b, r.Int64N(50)}) // ties in event time on purpose
	}
	encode := func(order []int, split int) ([]byte, []byte) {
		a, b := set.New(), set.New()
		for i, j := range order {
			if i < split {
				set.Add(a, recs[j].b, recs[j].t)
			} else {
				set.Add(b, recs[j].b, recs[j].t)
			}
		}
		set.Merge(b, a)
		return set.AppendBinary(nil, b), set.AppendJSON(nil, b)
	}
	order := r.Perm(len(recs))
	wantBin, wantJSON := encode(order, 0)
	for i := range 20 {
		bin, js := encode(r.Perm(len(recs)), r.IntN(len(recs)))
		if !bytes.Equal(bin, wantBin) || !bytes.Equal(js, wantJSON) {
			t.Fatalf("order %d: %s, want %s", i, js, wantJSON)
		}
	}
	st, err := set.DecodeState(wantBin)
	if err != nil {
		t.Fatal(err)
	}
	if js := set.AppendJSON(nil, st); !bytes.Equal(js, wantJSON) {
		t.Fatalf("decoded: %s, want %s", js, wantJSON)
	}
	if !bytes.Equal(set.AppendBinary(nil, st), wantBin) {
		t.Fatal("re-encoding a decoded state changed it")
	}
	for n := range len(wantBin) {
		if _, err := set.DecodeState(wantBin[:n]); err == nil {
			t.Fatalf("a state cut at %d bytes decoded", n)
		}
	}
	other, _ := ParseSet(map[string]string{"n": "count()"})
	if _, err := other.DecodeState(wantBin); err == nil {
		t.Fatal("a state decoded with another table")
	}
	t.Logf("state of %d records: %d bytes", len(recs), len(wantBin))
}

// TestAddAllocates: adding a record to a window's state allocates nothing
// once the values are known (a new distinct value or a new extreme is
// copied).
func TestAddAllocates(t *testing.T) {
	set, err := ParseSet(map[string]string{
		"n": "count()", "sum": "sum(amount)", "max": "max(amount)", "avg": "avg(amount)",
		"first": "first(user)", "users": "count_distinct(user)",
	})
	if err != nil {
		t.Fatal(err)
	}
	st := set.New()
	rec := []byte(`{"amount":12.34,"user":"someone with a long name","ts":1}`)
	set.Add(st, rec, 1)
	if n := testing.AllocsPerRun(100, func() { set.Add(st, rec, 2) }); n != 0 {
		t.Fatalf("%v allocations per record", n)
	}
}

func TestAddCountsMismatches(t *testing.T) {
	set, _ := ParseSet(map[string]string{"s": "sum(amount)", "m": "max(amount)", "n": "count()"})
	st := set.New()
	for rec, want := range map[string]int{`{"amount":1}`: 0, `{}`: 0, `{"amount":null}`: 0, `{"amount":"n/a"}`: 1, `{"amount":true}`: 2, `{"amount":[1]}`: 2} {
		if got := set.Add(st, []byte(rec), 0); got != want {
			t.Errorf("%s: %d skipped, want %d", rec, got, want)
		}
	}
	if got := string(set.AppendJSON(nil, st)); got != `"m":"n/a","n":6,"s":1` {
		t.Errorf("got %s", got)
	}
}
