package operators_test

import (
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/conveyor-etl/conveyor/plugin"
)

// rec150 is a 150-byte record as the kafka source hands it on: an event
// with the _kafka_* members the source adds.
var rec150 = []byte(`{"event_id":"evt-000123","user_id":42,"event":"purchase","amount":150,"price":"2.5","qty":4,"country":"de","_kafka_key":"evt-00123","_kafka_offset":1}`)

// cpuTime is the process's user and system CPU time: on a shared machine
// wall time also counts the time other processes held the cores.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkOperators applies each operator to batches of 1000 records of
// 150 bytes and reports ns/record (wall), cpu-ns/record (the process's
// CPU time, GC included) and allocs/record (benchmarks/RESULTS.md,
// "Operators").
func BenchmarkOperators(b *testing.B) {
	if len(rec150) != 150 {
		b.Fatalf("record of %d bytes", len(rec150))
	}
	for _, c := range []struct {
		name, function string
		lines          []string
	}{
		{"filter.apply", "filter.apply", []string{`column = "amount"`, `operator = ">="`, `value = 100`}},
		{"filter.expr", "filter.expr", []string{`condition = "amount >= 100"`}},
		{"filter.expr/3-clauses", "filter.expr", []string{`condition = "amount >= 100 && event in ['purchase', 'refund'] && !(country matches '^X')"`}},
		{"fields.select", "fields.select", []string{`fields = ["event_id", "user_id", "amount", "country"]`}},
		{"fields.drop", "fields.drop", []string{`fields = ["_kafka_*"]`}},
		{"fields.rename", "fields.rename", []string{`rename = { user_id = "uid" }`}},
		{"fields.set", "fields.set", []string{`set = { total = "price * qty" }`}},
		{"fields.set/3", "fields.set", []string{`set = { total = "price * qty", source = "'web'", country = "upper(country)" }`}},
		{"json.extract", "json.extract", []string{`field = "p"`}},
	} {
		b.Run(c.name, func(b *testing.B) {
			op := mustOp(b, c.function, c.lines...)
			rec := rec150
			if c.function == "json.extract" { // 150 bytes holding a document in a string
				rec = []byte(`{"event_id":"evt-000123","_kafka_offset":9,"p":"{\"user_id\":42,\"event\":\"purchase\",\"amount\":150,\"country\":\"de\",\"qty\":4,\"x\":\"abcdef\"}"}`)
				if len(rec) != 150 {
					b.Fatalf("record of %d bytes", len(rec))
				}
			}
			in := make([]plugin.Record, 1000)
			for i := range in {
				in[i] = plugin.Record{Value: rec, Offset: int64(i)}
			}
			out := make([]plugin.Record, 0, len(in))
			fail := func(i int, err error) { b.Fatalf("record %d failed: %v", i, err) }
			if out = op.Apply(in, out[:0], fail); len(out) != len(in) {
				b.Fatalf("%d of %d records out", len(out), len(in))
			}
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			cpu0 := cpuTime()
			b.ResetTimer()
			for b.Loop() {
				out = op.Apply(in, out[:0], fail)
			}
			b.StopTimer()
			cpu := cpuTime() - cpu0
			runtime.ReadMemStats(&m1)
			n := float64(b.N) * float64(len(in))
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/record")
			b.ReportMetric(float64(cpu.Nanoseconds())/n, "cpu-ns/record")
			b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/n, "allocs/record")
		})
	}
}
