package engine

import (
	"reflect"
	"testing"
	"time"

	"github.com/conveyor-etl/conveyor/internal/state"
	"github.com/conveyor-etl/conveyor/internal/window"
	"github.com/conveyor-etl/conveyor/operators"
	"github.com/conveyor-etl/conveyor/plugin"
)

// keyAndTime hides a processor's KeyTime: the writer calls Key then
// EventTime, and reads the metadata with gjson.
type keyAndTime struct {
	plugin.Processor
	plugin.Keyer
}

// The repartition writer gives the same messages whether it reads a
// record's key and time in one pass (window.aggregate's KeyTime) or calls
// Key then EventTime: keys, values without the metadata, headers carried
// and added, Kafka timestamps, failed records; also for records without
// metadata, with members twice, and with a bad time or no group.
func TestRepartitionWriterKeyTimeIsKeyThenEventTime(t *testing.T) {
	c := operators.DefaultWindowAggregateConfig()
	c.GroupBy, c.TimeField, c.Size = []string{"country", "shop"}, "ts", time.Minute
	c.Aggregates = map[string]string{"n": "count()"}
	recs := []string{
		`{"country":"DE","shop":1,"ts":1000,"_kafka_key":"k","_kafka_timestamp":1795608000013,"_kafka_headers":{"trace":"abc","conveyor-mark":"x"}}`,
		`{"country":"FR","ts":"2026-12-07T00:00:00Z","_kafka_partition":2,"_kafka_offset":7}`,
		`{"country":"DE","ts":2000}`,
		`{"country":"IT","ts":3000,"_kafka_timestamp":"soon","_kafka_timestamp":5}`,
		`{"country":"IT","ts":"never","_kafka_key":"k"}`,
		`{"shop":"x","ts":4000,"_kafka_headers":{"a":"1","a":"2"},"_kafka_headers":{"b":"3"}}`,
		`{"c\u006funtry":"ES","ts":5000,"_kafka_timestamp":6}`,
		`not json`,
		`{"country":"PT","ts":6000,"_kafka_timestamp":12345678901234567890}`,
	}
	var b plugin.Batch
	b.Partition = 1
	for i, r := range recs {
		b.Records = append(b.Records, plugin.Record{Value: []byte(r), Offset: int64(i)})
	}
	run := func(proc plugin.Processor) ([]string, []state.Message) {
		rp := &repartitioned{rp: fakeRepartition{n: 3}, keyer: proc.(plugin.Keyer), writers: map[int32]*markWriter{}}
		msgs, failed := rp.messages(proc, rp.writer(1), b, window.NoTime, false)
		var fs []string
		for _, f := range failed {
			fs = append(fs, string(f.rec.Value)+": "+f.err.Error())
		}
		return fs, msgs
	}
	one, _ := operators.NewWindowAggregate(c)
	two, _ := operators.NewWindowAggregate(c)
	f1, m1 := run(one)
	f2, m2 := run(keyAndTime{two, two})
	if !reflect.DeepEqual(f1, f2) {
		t.Fatalf("failed records: one pass %q, two %q", f1, f2)
	}
	if !reflect.DeepEqual(m1, m2) {
		t.Fatalf("messages: one pass\n%+v\ntwo\n%+v", m1, m2)
	}
	head := func(m state.Message) (out []string) {
		for _, h := range m.Headers {
			out = append(out, string(h.Key)+"="+string(h.Value))
		}
		return out
	}
	if m := m1[0]; m.Timestamp != 1795608000013 || string(m.Key) != `["DE",1]` || string(m.Value) != `{"country":"DE","shop":1,"ts":1000}` ||
		len(m.Headers) != 4 || head(m)[0] != "trace=abc" || head(m)[1] != "conveyor-mark=x" {
		t.Errorf("first message %s %s at %d, headers %q: want the metadata stripped, its timestamp and headers carried", m.Key, m.Value, m.Timestamp, head(m))
	}
	if m := m1[3]; m.Timestamp != 0 || string(m.Key) != `["IT",null]` {
		t.Errorf("fourth message %s at %d: want the first _kafka_timestamp (not a number: none)", m.Key, m.Timestamp)
	}
	if h := head(m1[4]); len(h) != 4 || h[0] != "a=1" || h[1] != "a=2" {
		t.Errorf("fifth message headers %q: want the first _kafka_headers' a=1 and a=2", h)
	}
	if len(f1) != 2 {
		t.Fatalf("failed %q, want the record with a bad time and the one that is not JSON", f1)
	}
}
