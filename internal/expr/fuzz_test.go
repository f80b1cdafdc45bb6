package expr_test

import (
	"testing"

	"github.com/conveyor-etl/conveyor/internal/expr"
)

var fuzzExprs = []string{`amount >= 100 && event in ['purchase', 'refund'] && !(country matches '^X')`,
	`price * qty`, `'orders-' + lower(country)`, `coalesce(a.b, c, 'x') ?? 1`, `hash(user_id) % 10`,
	`tags contains 'a' || len(tags) > 2`, `address.country not in ['DE']`, `int(x) / float(y) ** 2`,
	`let t = a + b; t > 1 ? string(t) : upper(s)`, `all(tags, # startsWith 'a')`, `-amount`, `now() - ts > 60000`,
	`a[0].b[1]`, `x matches y`, `{"a": 1}.a`, `[1, 2][a]`, `a ?? b ?? c`, `not (a in b)`}

var fuzzRecords = []string{order, `{}`, `{"amount":"150","event":"refund","country":"Xy","tags":[1,"a"]}`,
	`{"a":{"b":[0,{"x":1}]},"x":"1e400","y":0,"s":null}`, `[1,2]`, `{"amount":`, ``}

// FuzzCompile: any text compiles or is an *expr.Error, never a panic, and
// a program that compiles evaluates on any record without panicking.
func FuzzCompile(f *testing.F) {
	for _, s := range fuzzExprs {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		p, err := expr.Compile(src)
		if err != nil {
			if _, ok := err.(*expr.Error); !ok {
				t.Fatalf("%q: %T %v", src, err, err)
			}
			return
		}
		for _, r := range fuzzRecords {
			evalAll(t, p, []byte(r))
		}
	})
}

// FuzzEval: the seed expressions on any record bytes, never a panic, and
// Bool agrees with Eval.
func FuzzEval(f *testing.F) {
	for _, r := range fuzzRecords {
		for i := range fuzzExprs {
			f.Add(uint8(i), []byte(r))
		}
	}
	progs := make([]*expr.Program, len(fuzzExprs))
	for i, s := range fuzzExprs {
		p, err := expr.Compile(s)
		if err != nil {
			f.Fatalf("%s: %v", s, err)
		}
		progs[i] = p
	}
	f.Fuzz(func(t *testing.T, i uint8, rec []byte) {
		evalAll(t, progs[int(i)%len(progs)], rec)
	})
}

func evalAll(t *testing.T, p *expr.Program, rec []byte) {
	v, out, err := p.Eval(rec)
	b, bout := p.Bool(rec)
	if b && (err != nil || v.Kind() == expr.KindMissing) {
		t.Fatalf("%s on %q: true from no value", p, rec)
	}
	if bout&out != out {
		t.Fatalf("%s on %q: Bool's outcome %b lacks Eval's %b", p, rec, bout, out)
	}
	v.AppendJSON(nil)
	v.Text()
}
