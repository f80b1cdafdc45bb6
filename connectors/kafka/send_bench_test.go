package kafka

import (
	"context"
	"runtime"
	"strconv"
	"testing"

	"github.com/IBM/sarama"

	"github.com/conveyor-etl/conveyor/plugin"
)

// drainProducer takes what Send queues and acks nothing.
type drainProducer struct {
	sarama.AsyncProducer
	in chan *sarama.ProducerMessage
}

func (d *drainProducer) Input() chan<- *sarama.ProducerMessage { return d.in }

// BenchmarkSinkSend is the sink's side of a 500-record write, keyed, up to
// the producer's input channel: what a record costs before sarama.
// With "no scan", headers_field and timestamp_field are "": the encoder
// does not read the record's members; with "headers", each record has
// headers to send and leave out of the value.
func BenchmarkSinkSend(b *testing.B) {
	b.Run("defaults", func(b *testing.B) { benchSend(b, DefaultSinkConfig()) })
	noScan := DefaultSinkConfig()
	noScan.HeadersField, noScan.TimestampField = "", ""
	b.Run("no scan", func(b *testing.B) { benchSend(b, noScan) })
	b.Run("headers", func(b *testing.B) {
		benchSend(b, DefaultSinkConfig(), `,"_kafka_headers":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}`)
	})
}

// benchSend sends 500 records, each with more (members) at its end.
func benchSend(b *testing.B, cfg *SinkConfig, more ...string) {
	s, recs := sendingSink(b, cfg, 500)
	for i := range recs {
		for _, m := range more {
			v := recs[i].Value
			recs[i].Value = append(v[:len(v)-1:len(v)-1], m+"}"...)
		}
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		s.Send(ctx, recs)
	}
	b.ReportMetric(float64(testing.AllocsPerRun(1, func() { s.Send(ctx, recs) }))/500, "allocs/record")
}

// sendingSink is a Sink, keyed by user_id, whose producer drains what it is
// given, and n records for it.
func sendingSink(tb testing.TB, cfg *SinkConfig, n int) (*Sink, []plugin.Record) {
	cfg.Topic, cfg.KeyField = "out", "user_id"
	p := &drainProducer{in: make(chan *sarama.ProducerMessage, 1024)}
	go func() {
		for range p.in {
		}
	}()
	tb.Cleanup(func() { close(p.in) })
	enc, err := newEncoder(cfg, nil)
	if err != nil {
		tb.Fatal(err)
	}
	recs := make([]plugin.Record, n)
	for i := range recs {
		recs[i] = plugin.Record{Value: []byte(`{"event_id":"e-` + strconv.Itoa(i) + `","user_id":"u-17","amount":123.45,"_kafka_offset":` + strconv.Itoa(i) + `}`), Offset: int64(i)}
	}
	return &Sink{cfg: cfg, producer: p, enc: enc}, recs
}

// A write of a few records (a batch at a low rate) takes a few KiB of
// arena, not a whole 64 KiB chunk: at 10k records/s, batches of about 8
// records each took 64 KiB, and the garbage doubled the GC's share of the
// CPU (the latency scenario's profile, RESULTS.md).
func TestSmallWriteAllocatesLittle(t *testing.T) {
	s, recs := sendingSink(t, DefaultSinkConfig(), 8)
	ctx := context.Background()
	s.Send(ctx, recs)
	var before, after runtime.MemStats
	const writes = 200
	runtime.ReadMemStats(&before)
	for range writes {
		s.Send(ctx, recs)
	}
	runtime.ReadMemStats(&after)
	perWrite := (after.TotalAlloc - before.TotalAlloc) / writes
	if perWrite > 16<<10 {
		t.Errorf("a write of 8 records allocated %d bytes, want at most 16 KiB", perWrite)
	}
	t.Logf("a write of 8 records allocated %d bytes", perWrite)
}
