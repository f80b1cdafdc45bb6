package plugin

import (
	"strconv"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
)

// everyOther keeps the records at even offsets, as a filter passing half.
type everyOther struct{}

func (everyOther) Apply(in, out []Record, _ func(int, error)) []Record {
	for _, r := range in {
		if r.Offset%2 == 0 {
			out = append(out, r)
		}
	}
	return out
}

// BenchmarkOperatorThenDecode is what a batch of 1000 records costs between
// a source and a sink of Example 3: the operator middleware decodes it,
// keeps half, re-encodes them, and the sink's side decodes that message.
func BenchmarkOperatorThenDecode(b *testing.B) {
	var bb BatchBuilder
	for i := range 1000 {
		bb.Append([]byte(`{"event_id":"e-`+strconv.Itoa(i)+`","user_id":"u-17","event":"purchase","amount":123.45,"currency":"EUR","ts":1733000000000,"country":"DE","device":"ios","_kafka_key":"e-1","_kafka_partition":3,"_kafka_offset":`+strconv.Itoa(1000+i)+`,"_kafka_timestamp":1733000000000}`), int64(1000+i))
	}
	src := bb.Message("m", "events", 3)
	var got int
	sink := func(m *message.Message) ([]*message.Message, error) {
		d, err := DecodeBatch(m)
		got += len(d.Records)
		return nil, err
	}
	h := OperatorMiddleware(everyOther{}, nil)(sink)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h(src); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/record")
}
