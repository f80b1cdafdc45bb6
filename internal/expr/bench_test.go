package expr_test

import (
	"testing"

	"github.com/conveyor-etl/conveyor/internal/expr"
)

// rec150 is a 150-byte record like Example 3's.
var rec150 = []byte(`{"id":12345,"user_id":"u-0042","event":"purchase","amount":149.5,"country":"FR","note":"n","_kafka_key":"u-0042","_kafka_partition":3,"_kafka_offset":1}`)

func benchExpr(b *testing.B, src string) {
	p, err := expr.Compile(src)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(rec150)))
	for b.Loop() {
		p.Eval(rec150)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/record")
}

func BenchmarkExprCompare(b *testing.B) { benchExpr(b, `amount >= 100`) }
func BenchmarkExprCondition(b *testing.B) {
	benchExpr(b, `amount >= 100 && event in ['purchase', 'refund'] && !(country matches '^X')`)
}
func BenchmarkExprConcat(b *testing.B) { benchExpr(b, `'orders-' + lower(country)`) }
