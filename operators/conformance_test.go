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

// The other operators keep the contract too, over records they change,
// leave alone, and fail.
func TestOperatorsConformance(t *testing.T) {
	var in [][]byte
	for i := range 120 {
		switch i % 4 {
		case 0:
			in = append(in, fmt.Appendf(nil, `{"seq":%d,"n":%d,"p":"{\"a\":%d}","_kafka_key":"k","o":{"x":1}}`, i, i, i))
		case 1:
			in = append(in, fmt.Appendf(nil, `{"seq":%d}`, i))
		case 2:
			in = append(in, fmt.Appendf(nil, `{"seq":%d,"n":"text","p":"not json"}`, i))
		default:
			in = append(in, fmt.Appendf(nil, `[%d]`, i))
		}
	}
	for _, c := range []struct {
		function string
		lines    []string
	}{
		{"filter.expr", []string{`condition = "n > 40 || n == 'text'"`}},
		{"fields.drop", []string{`fields = ["_kafka_*", "o.x"]`}},
		{"fields.select", []string{`fields = ["seq", "o.x"]`}},
		{"fields.rename", []string{`rename = { n = "m", "o.x" = "x" }`}},
		{"fields.set", []string{`set = { d = "n * 2", s = "'x'" }`}},
		{"json.extract", []string{`field = "p"`}},
	} {
		t.Run(c.function, func(t *testing.T) {
			plugintest.TestOperator(t, plugintest.OperatorCase{
				New:   func(t testing.TB) plugin.Operator { return mustOp(t, c.function, c.lines...) },
				Input: in,
			})
		})
	}
}
