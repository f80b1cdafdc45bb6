package kafka

import (
	"context"
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
// does not read the record's members.
func BenchmarkSinkSend(b *testing.B) {
	b.Run("defaults", func(b *testing.B) { benchSend(b, DefaultSinkConfig()) })
	noScan := DefaultSinkConfig()
	noScan.HeadersField, noScan.TimestampField = "", ""
	b.Run("no scan", func(b *testing.B) { benchSend(b, noScan) })
}

func benchSend(b *testing.B, cfg *SinkConfig) {
	cfg.Topic, cfg.KeyField = "out", "user_id"
	p := &drainProducer{in: make(chan *sarama.ProducerMessage, 1024)}
	go func() {
		for range p.in {
		}
	}()
	enc, err := newEncoder(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	s := &Sink{cfg: cfg, producer: p, enc: enc}
	recs := make([]plugin.Record, 500)
	for i := range recs {
		recs[i] = plugin.Record{Value: []byte(`{"event_id":"e-` + strconv.Itoa(i) + `","user_id":"u-17","amount":123.45,"_kafka_offset":` + strconv.Itoa(i) + `}`), Offset: int64(i)}
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		s.Send(ctx, recs)
	}
	b.ReportMetric(float64(testing.AllocsPerRun(1, func() { s.Send(ctx, recs) }))/500, "allocs/record")
}
