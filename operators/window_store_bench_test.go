package operators

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/internal/state"
	"github.com/conveyor-etl/conveyor/plugin"
)

// nullLog is a changelog that keeps nothing: the benchmark measures the
// stage and its store, not Kafka.
type nullLog struct{ next int64 }

func (l *nullLog) Write(_ context.Context, _ int32, cs []state.Change) (int64, error) {
	l.next += int64(len(cs))
	return l.next, nil
}
func (l *nullLog) Read(context.Context, int32, int64, func(int64), func(state.Change)) (int64, error) {
	return l.next, nil
}
func (l *nullLog) Close() error { return nil }

// BenchmarkWindowAggregateStore is window.aggregate (one-minute tumbling
// windows, count and sum) over one partition in batches of 500, its
// changes written to a changelog that keeps nothing after each batch, with
// the memory store and the disk store (Pebble): groups = 50 countries, or
// 100,000 users (a window per user open at once). An op is one record.
//
//	go test -run '^$' -bench BenchmarkWindowAggregateStore -benchtime 1000000x ./operators
func BenchmarkWindowAggregateStore(b *testing.B) {
	for _, groups := range []int{50, 100_000} {
		for _, disk := range []bool{false, true} {
			name := fmt.Sprintf("groups=%d/store=%s", groups, map[bool]string{false: "memory", true: "disk"}[disk])
			b.Run(name, func(b *testing.B) { benchWindowStore(b, groups, disk) })
		}
	}
}

func benchWindowStore(b *testing.B, groups int, disk bool) {
	c := DefaultWindowAggregateConfig()
	c.GroupBy, c.TimeField, c.Size = []string{"g"}, "ts", time.Minute
	c.Aggregates = map[string]string{"orders": "count()", "revenue": "sum(amount)"}
	w, err := NewWindowAggregate(c)
	if err != nil {
		b.Fatal(err)
	}
	st := state.New("count", w, func(context.Context) (state.Changelog, error) { return &nullLog{}, nil })
	if disk {
		st.UseDisk(b.TempDir(), zap.NewNop())
	}
	defer st.Close()
	// Event time moves 20 ms a record: with 100,000 users a window
	// takes 3,000 records, so most records open a new window.
	const size = 500
	values := make([][]byte, size)
	ctx := context.Background()
	out := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += size {
		batch := plugin.Batch{Origin: "orders", Records: make([]plugin.Record, 0, size)}
		for j := i; j < min(i+size, b.N); j++ {
			values[j-i] = fmt.Appendf(values[j-i][:0], `{"g":"g%d","amount":%d.25,"ts":%d}`, (j*7919)%groups, j%100, 1_700_000_040_000+int64(j)*20)
			batch.Records = append(batch.Records, plugin.Record{Value: values[j-i], Offset: int64(j)})
		}
		res, err := st.Apply(ctx, batch, func(i int, err error) { b.Fatalf("record %d: %v", i, err) })
		if err != nil {
			b.Fatal(err)
		}
		if err := res.Pending.Write(ctx); err != nil {
			b.Fatal(err)
		}
		out += len(res.Out)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(out), "windows")
}
