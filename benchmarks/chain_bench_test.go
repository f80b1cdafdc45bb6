package benchmarks

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/conveyor-etl/conveyor/benchmarks/internal/gen"
	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/connectors/jsonfile"
	"github.com/conveyor-etl/conveyor/internal/record"
	"github.com/conveyor-etl/conveyor/operators"
	"github.com/conveyor-etl/conveyor/plugin"
)

// The operator chain of Example 3, per record, as the pipeline runs it: the
// Kafka source enriches each message value with its _kafka_* metadata
// (record.Enrich), filter.apply reads one field (operators.Filter), and the
// Kafka sink reads the key field (record.Path + record.KeyText). The single
// steps have their own benchmarks in internal/record (Enrich, FieldGet),
// operators (Filter) and internal/jsonio (Write); these measure them
// together, on the benchmark's records, so a regression anywhere in the
// chain shows here.

const batchSize = 1000

func newFilter(tb testing.TB) *operators.Filter {
	f, err := operators.NewFilter(&operators.FilterConfig{Column: "amount", Operator: ">=", Value: "100"})
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

// inputs returns n benchmark records and their Kafka keys.
func inputs(n int) (values, keys [][]byte) {
	for i := range int64(n) {
		values = append(values, gen.Append(nil, i))
		keys = append(keys, gen.AppendEventID(nil, i))
	}
	return values, keys
}

func meta(key []byte, i int) record.Meta {
	return record.Meta{Key: key, Partition: int32(i % 6), Offset: int64(i), Timestamp: 1795608000000 + int64(i)}
}

// BenchmarkChainEnrichFilter is one record through enrichment and the
// filter: the per-record work between a fetched Kafka message and the
// sink. The goal is under 1 µs and at most 2 allocations per record.
func BenchmarkChainEnrichFilter(b *testing.B) {
	values, keys := inputs(batchSize)
	f := newFilter(b)
	dst := make([]byte, 0, 512)
	kept, i := 0, 0
	b.ReportAllocs()
	b.SetBytes(int64(len(values[0])))
	for b.Loop() {
		j := i % batchSize
		dst = record.Enrich(dst[:0], values[j], meta(keys[j], i))
		if f.Match(dst) {
			kept++
		}
		i++
	}
	if kept == 0 || kept == i {
		b.Fatalf("kept %d of %d", kept, i)
	}
}

// BenchmarkChainBatch runs a batch as the pipeline does: the source's batch
// builder enriches every record into one shared buffer, filter.apply keeps
// half into a fresh slice, and the sink takes each kept record's key. It
// reports ns and allocations per input record.
func BenchmarkChainBatch(b *testing.B) {
	values, keys := inputs(batchSize)
	f := newFilter(b)
	keyPath := record.CompilePath("user_id")
	allocs := testing.AllocsPerRun(3, func() { runBatch(values, keys, f, keyPath) })
	b.ReportAllocs()
	for b.Loop() {
		runBatch(values, keys, f, keyPath)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batchSize), "ns/record")
	b.ReportMetric(allocs/batchSize, "allocs/record")
}

func runBatch(values, keys [][]byte, f *operators.Filter, keyPath record.Path) int {
	recs := make([]plugin.Record, 0, batchSize)
	buf := make([]byte, 0, batchSize*(len(values[0])+96))
	for i, v := range values {
		start := len(buf)
		buf = record.Enrich(buf, v, meta(keys[i], i))
		recs = append(recs, plugin.Record{Value: buf[start:len(buf):len(buf)], Offset: int64(i)})
	}
	out := f.Apply(recs, make([]plugin.Record, 0, len(recs)), nil)
	n := 0
	for _, r := range out {
		if k, ok := record.KeyText(keyPath.Get(r.Value)); ok {
			n += len(k)
		}
	}
	return n
}

// BenchmarkChainFullDecode is what the chain avoids: decoding each record
// into map[string]any to read one field and add four, then encoding it
// again. For comparison only.
func BenchmarkChainFullDecode(b *testing.B) {
	values, keys := inputs(batchSize)
	i := 0
	b.ReportAllocs()
	b.SetBytes(int64(len(values[0])))
	for b.Loop() {
		j := i % batchSize
		var m map[string]any
		if err := json.Unmarshal(values[j], &m); err != nil {
			b.Fatal(err)
		}
		md := meta(keys[j], i)
		m[record.KeyField] = string(md.Key)
		m[record.PartitionField] = md.Partition
		m[record.OffsetField] = md.Offset
		m[record.TimestampField] = md.Timestamp
		if a, _ := m["amount"].(float64); a >= 100 {
			if _, err := json.Marshal(m); err != nil {
				b.Fatal(err)
			}
		}
		i++
	}
}

// BenchmarkChainJSONWrite is the json.write sink (Example 1) encoding
// enriched records, written in batches through the plugin.Sink interface.
func BenchmarkChainJSONWrite(b *testing.B) {
	values, keys := inputs(batchSize)
	recs := make([]plugin.Record, batchSize)
	for i, v := range values {
		recs[i] = plugin.Record{Value: record.Enrich(nil, v, meta(keys[i], i)), Offset: int64(i)}
	}
	path := filepath.Join(b.TempDir(), "out.json")
	sink, err := jsonfile.NewWriter(context.Background(), &jsonfile.WriteConfig{Path: path, Format: "records"}, plugin.Env{Stage: &config.Stage{ID: "save"}})
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(recs[0].Value) * batchSize))
	for b.Loop() {
		if err := sink.(plugin.Sender).Send(ctx, recs).Wait(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batchSize), "ns/record")
	if err := sink.(plugin.Flusher).Flush(ctx); err != nil {
		b.Fatal(err)
	}
}

// TestChainOutput checks that the chain's output is what a full decode and
// encode (member order kept, metadata appended) would give, byte for byte,
// for the benchmark's records. internal/record tests this property for
// arbitrary input; this keeps the benchmark honest about what it measures.
func TestChainOutput(t *testing.T) {
	values, keys := inputs(100)
	f := newFilter(t)
	for i, v := range values {
		got := record.Enrich(nil, v, meta(keys[i], i))
		md := meta(keys[i], i)
		want := string(v[:len(v)-1]) + `,"_kafka_key":` + strconv.Quote(string(md.Key)) +
			`,"_kafka_partition":` + strconv.Itoa(int(md.Partition)) + `,"_kafka_offset":` + strconv.FormatInt(md.Offset, 10) +
			`,"_kafka_timestamp":` + strconv.FormatInt(md.Timestamp, 10) + `}`
		if string(got) != want {
			t.Fatalf("record %d:\n got %s\nwant %s", i, got, want)
		}
		var m map[string]any
		if err := json.Unmarshal(got, &m); err != nil {
			t.Fatal(err)
		}
		if f.Match(got) != (m["amount"].(float64) >= 100) || f.Match(got) != gen.Keep(int64(i)) {
			t.Fatalf("record %d: filter disagrees with a full decode", i)
		}
	}
}
