package expr_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/conveyor-etl/conveyor/internal/expr"
)

const order = `{"id":7,"event":"purchase","amount":150,"price":"2.5","qty":4,"country":"fr","note":null,"ok":true,"flag":"true",` +
	`"tags":["a","b",3],"address":{"country":"DE","zip":"10115"},"_kafka_key":"u1","_kafka_headers":{"traceparent":"00-abc-01"}}`

func TestBool(t *testing.T) {
	for _, c := range []struct {
		src  string
		want bool
		out  expr.Outcome
	}{
		{`amount >= 100`, true, 0},
		{`amount >= 200`, false, 0},
		{`100 <= amount`, true, 0},
		{`price > 2`, true, 0},        // a numeric string compares as a number
		{`price == "2.50"`, false, 0}, // two strings compare as text
		{`price == 2.50`, true, 0},
		{`amount >= 100 && event in ['purchase', 'refund'] && !(country matches '^X')`, true, 0},
		{`event not in ['purchase', 'refund']`, false, 0},
		{`event in ['refund']`, false, 0},
		{`address.country == 'DE'`, true, 0},
		{`address["zip"] startsWith '101'`, true, 0},
		{`_kafka_key == 'u1' && _kafka_headers.traceparent endsWith '-01'`, true, 0},
		{`'traceparent' in _kafka_headers`, true, 0},
		{`tags contains 'b'`, true, 0},
		{`tags contains 3`, true, 0},
		{`tags not contains 'z'`, true, 0},
		{`tags[0] == 'a'`, true, 0},
		{`ok`, true, 0},
		{`flag && ok`, true, 0},
		{`note == nil`, true, 0},
		{`country == nil`, false, 0},
		{`upper(country) == 'FR'`, true, 0},
		{`lower(address.country) + '-' + country == 'de-fr'`, true, 0},
		{`len(tags) == 3 && len(country) == 2`, true, 0},
		{`price * qty == 10`, true, 0},
		{`int("42") + 1 == 43`, true, 0},
		{`string(amount) == '150'`, true, 0},
		{`coalesce(nope, note, country) == 'fr'`, true, 0},
		{`(nope ?? 'x') == 'x'`, true, 0},
		{`trim('  a ') == 'a'`, true, 0},
		{`now() > 1700000000000`, true, 0},
		{`amount > 100 ? true : false`, true, 0},
		{`let t = price * qty; t > 5`, true, 0},
		{`all(tags, # != 'z')`, true, expr.Mismatch}, // 3 != 'z' is a mismatch

		// a missing field: false and counted, whatever the comparison
		{`nope > 1`, false, expr.Missing},
		{`nope != 1`, false, expr.Missing},
		{`nope not in [1, 2]`, false, expr.Missing},
		{`address.city == 'x'`, false, expr.Missing},
		{`!(nope matches '^X')`, true, expr.Missing},
		{`nope`, false, expr.Missing},
		{`nope * 2 > 1`, false, expr.Missing},
		{`upper(nope) == 'X'`, false, expr.Missing},

		// a type mismatch: false (!= true) and counted
		{`event > 5`, false, expr.Mismatch},
		{`event == 5`, false, expr.Mismatch},
		{`event != 5`, true, expr.Mismatch},
		{`ok > 1`, false, expr.Mismatch},
		{`address == 'x'`, false, expr.Mismatch},
		{`event * 2 > 1`, false, expr.Mismatch},
		{`amount matches '1'`, false, expr.Mismatch},
		{`upper(amount) == '150'`, false, expr.Mismatch},
		{`event`, false, expr.Mismatch},
		{`amount / 0 > 1`, false, expr.Mismatch},
		{`tags[10] == 'a'`, false, expr.Missing},
		{`abs(country) > 1`, false, expr.Mismatch}, // an expr-lang error
	} {
		p, err := expr.Compile(c.src)
		if err != nil {
			t.Errorf("%s: %v", c.src, err)
			continue
		}
		got, out := p.Bool([]byte(order))
		if got != c.want || out != c.out {
			t.Errorf("%s: got %v, outcome %b; want %v, %b", c.src, got, out, c.want, c.out)
		}
	}
}

func TestEval(t *testing.T) {
	for _, c := range []struct {
		src, json string
		kind      expr.Kind
	}{
		{`price * qty`, `10`, expr.KindNumber},
		{`amount * 1.5`, `225`, expr.KindNumber},
		{`qty / 3`, `1.3333333333333333`, expr.KindNumber},
		{`id + 1`, `8`, expr.KindNumber},
		{`'orders-' + lower(address.country)`, `"orders-de"`, expr.KindString},
		{`'web'`, `"web"`, expr.KindString},
		{`upper(country)`, `"FR"`, expr.KindString},
		{`address`, `{"country":"DE","zip":"10115"}`, expr.KindObject},
		{`tags`, `["a","b",3]`, expr.KindArray},
		{`note`, `null`, expr.KindNull},
		{`amount > 1`, `true`, expr.KindBool},
		{`hash('abc')`, `8903952624080715`, expr.KindNumber},
		{`hash(id) == hash('7')`, `true`, expr.KindBool},
		{`string(address)`, `"{\"country\":\"DE\",\"zip\":\"10115\"}"`, expr.KindString},
		{`float("1e3")`, `1000`, expr.KindNumber},
		{`-amount`, `-150`, expr.KindNumber},
	} {
		p, err := expr.Compile(c.src)
		if err != nil {
			t.Errorf("%s: %v", c.src, err)
			continue
		}
		v, out, err := p.Eval([]byte(order))
		if err != nil || out != 0 {
			t.Errorf("%s: %v, outcome %b", c.src, err, out)
			continue
		}
		got, err := v.AppendJSON(nil)
		if string(got) != c.json || err != nil || v.Kind() != c.kind {
			t.Errorf("%s: %s (kind %d, %v), want %s (kind %d)", c.src, got, v.Kind(), err, c.json, c.kind)
		}
	}
}

func TestEvalMissing(t *testing.T) {
	for src, want := range map[string]expr.Outcome{`nope + 1`: expr.Missing, `event * 2`: expr.Mismatch, `coalesce(nope)`: expr.Missing,
		`lower(nope)`: expr.Missing, `qty / 0`: expr.Mismatch} {
		p, err := expr.Compile(src)
		if err != nil {
			t.Fatal(err)
		}
		v, out, err := p.Eval([]byte(order))
		if err != nil || out != want || v.Kind() != expr.KindMissing {
			t.Errorf("%s: kind %d, outcome %b, %v; want missing, %b", src, v.Kind(), out, err, want)
		}
		if _, err := v.AppendJSON(nil); err == nil {
			t.Errorf("%s: a missing value has JSON", src)
		}
		if _, ok := v.Text(); ok {
			t.Errorf("%s: a missing value has text", src)
		}
	}
}

func TestText(t *testing.T) {
	for src, want := range map[string]string{`country`: "fr", `amount`: "150", `price * 2`: "5", `ok`: "true", `id`: "7"} {
		p, err := expr.Compile(src)
		if err != nil {
			t.Fatal(err)
		}
		v, _, _ := p.Eval([]byte(order))
		if got, ok := v.Text(); !ok || got != want {
			t.Errorf("%s: %q %v, want %q", src, got, ok, want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	for src, want := range map[string]struct {
		col int
		msg string
	}{
		`amount >=`:                     {9, "unexpected token EOF"},
		`country matches '('`:           {17, "bad regular expression"},
		`amount > 1 && nosuch(amount)`:  {15, "unknown function nosuch"},
		`upper(a, b) == 'x'`:            {1, "upper takes 1 argument, got 2"},
		`hash()`:                        {1, "hash takes 1 argument, got 0"},
		"":                              {1, "empty"},
		`amount > 1 &&& x`:              {14, "unexpected token"},
		`country in ['a', 'b'] && x ==`: {29, "unexpected token EOF"},
	} {
		_, err := expr.Compile(src)
		var e *expr.Error
		if !errors.As(err, &e) {
			t.Errorf("%q: %v, want an *expr.Error", src, err)
			continue
		}
		if e.Column != want.col || !strings.Contains(e.Msg, want.msg) {
			t.Errorf("%q: column %d %q, want column %d %q", src, e.Column, e.Msg, want.col, want.msg)
		}
	}
}

func TestFields(t *testing.T) {
	p, err := expr.Compile(`amount >= 100 && address.country == 'DE' && tags[1] == 'b' && upper(_kafka_headers["trace"]) != '' && amount < 1e9`)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(p.Fields(), ","); got != "amount,address.country,tags.1,_kafka_headers.trace" {
		t.Errorf("fields %s", got)
	}
	p, err = expr.Compile(`let x = 1; all(items, .price > x)`)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(p.Fields(), ","); got != "items" {
		t.Errorf("fields %s", got)
	}
}

// A record that is not JSON, or not an object, only lacks fields.
func TestNotJSON(t *testing.T) {
	p, err := expr.Compile(`amount > 1`)
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range []string{``, `{`, `[1,2]`, `"x"`, `{"amount":}`} {
		if ok, out := p.Bool([]byte(rec)); ok || out != expr.Missing {
			t.Errorf("%q: %v %b", rec, ok, out)
		}
	}
}

// A comparison of one field with a constant skips the VM: it gives what
// the VM gives, result and outcome, on every kind of field.
func TestFastPathAgrees(t *testing.T) {
	recs := []string{order, `{}`, `{"amount":"150"}`, `{"amount":"n/a"}`, `{"amount":null}`, `{"amount":[150]}`, `{"amount":true}`, `{"amount":{"a":1}}`, `[1]`, `{`}
	var fast int
	for _, op := range []string{"==", "!=", "<", "<=", ">", ">=", "in", "not in", "contains", "not contains", "startsWith", "endsWith", "matches"} {
		for _, k := range []string{"100", "150", "'150'", "'n/a'", "true", "nil", "'1'", "['150', 150]", "'^1'"} {
			if (op == "in" || op == "not in") != strings.HasPrefix(k, "[") {
				continue
			}
			src := "amount " + op + " " + k
			p, err := expr.Compile(src)
			if err != nil {
				continue // matches with a constant that is no pattern
			}
			slow, _ := expr.CompileSlow(src)
			if expr.Fast(p) {
				fast++
			}
			for _, r := range recs {
				b1, o1 := p.Bool([]byte(r))
				b2, o2 := slow.Bool([]byte(r))
				if b1 != b2 || o1 != o2 {
					t.Errorf("%s on %s: fast %v %b, VM %v %b", src, r, b1, o1, b2, o2)
				}
			}
		}
	}
	if fast == 0 {
		t.Error("no expression took the fast path")
	}
}
