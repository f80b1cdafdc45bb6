//go:build !race

package expr_test

import (
	"testing"

	"github.com/conveyor-etl/conveyor/internal/expr"
)

// Evaluation reads only the fields the expression names, and allocates
// little: no decoding of the record.
func TestEvalAllocs(t *testing.T) {
	p, err := expr.Compile(`amount >= 100`)
	if err != nil {
		t.Fatal(err)
	}
	rec := []byte(order)
	p.Bool(rec)
	if n := testing.AllocsPerRun(200, func() { p.Bool(rec) }); n > 3 {
		t.Errorf("%v allocations per evaluation", n)
	}
}
