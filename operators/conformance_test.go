package operators_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/conveyor-etl/conveyor/operators"
	"github.com/conveyor-etl/conveyor/plugin"
	"github.com/conveyor-etl/conveyor/plugin/plugintest"
)

// filter.apply keeps plugin.Operator's contract, built through its
// registered factory, over records it keeps, drops, finds no column in and
// finds the wrong type in.
func TestFilterConformance(t *testing.T) {
	var in [][]byte
	for i := range 120 {
		switch i % 4 {
		case 0, 1:
			in = append(in, fmt.Appendf(nil, `{"seq":%d,"n":%d}`, i, i))
		case 2:
			in = append(in, fmt.Appendf(nil, `{"seq":%d}`, i))
		default:
			in = append(in, fmt.Appendf(nil, `{"seq":%d,"n":"text"}`, i))
		}
	}
	spec := operators.FilterSpec()
	plugintest.TestOperator(t, plugintest.OperatorCase{
		New: func(t testing.TB) plugin.Operator {
			c := operators.DefaultFilterConfig()
			c.Column, c.Operator, c.Value = "n", ">", float64(40)
			op, err := spec.Operator.Build(context.Background(), c, plugin.Env{})
			if err != nil {
				t.Fatal(err)
			}
			return op
		},
		Input: in,
	})
}
