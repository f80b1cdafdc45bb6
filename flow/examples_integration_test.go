package flow_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/conveyor-etl/conveyor/examples"
	"github.com/conveyor-etl/conveyor/internal/kafkatest"
)

// javaPartition3 is where Apache Kafka's Java producer (DefaultPartitioner:
// toPositive(murmur2(key)) % 3) puts these keys; the murmur2 values are the
// Java client's, as published with its tests.
var javaPartition3 = map[string]int32{}

func init() {
	for key, h := range map[string]int32{"1": -1993445489, "12": 126087238, "123": -267702483, "1234": -1614185708, "12345": -1188365604} {
		javaPartition3[key] = (h & 0x7fffffff) % 3
	}
}

// Example 3 as the spec writes it: 1000 events (the default max_messages),
// keep amount >= 100, key by user_id.
func TestIntegrationExample3ETL(t *testing.T) {
	env := kafkatest.Start(t)
	in, out, group := kafkatest.Name("raw-events"), kafkatest.Name("processed-events"), kafkatest.Name("etl-processor")
	env.CreateTopic(t, in, 3)
	env.CreateTopic(t, out, 3)
	msgs, evs := events(1000)
	msgs[500] = kafkatest.Msg{Partition: 2, Key: []byte("raw"), Value: []byte("not json at all")}
	env.Produce(t, in, msgs)
	inputs := env.ReadAll(t, in)

	text := example(t, "kafka-etl-example.toml", env, `"raw-events"`, fmt.Sprintf("%q", in), `"processed-events"`, fmt.Sprintf("%q", out), `"etl-processor"`, fmt.Sprintf("%q", group))
	sum := runFile(t, writePipeline(t, t.TempDir(), text))

	want := map[string]bool{}
	for i, e := range evs {
		if i != 500 && e.Amount >= 100 {
			want[e.EventID] = true
		}
	}
	where := map[string]kafkatest.Msg{} // event id -> input position
	for _, m := range inputs {
		var e event
		if json.Unmarshal(m.Value, &e) == nil {
			where[e.EventID] = m
		}
	}
	got := env.ReadAll(t, out)
	if len(got) != len(want) {
		t.Fatalf("output has %d records, want %d", len(got), len(want))
	}
	keyPart := map[string]int32{}
	for _, m := range got {
		d := decode(t, m.Value)
		if !want[d.EventID] {
			t.Fatalf("unexpected or duplicate output %s", m.Value)
		}
		delete(want, d.EventID)
		if string(m.Key) != fmt.Sprint(d.UserID) {
			t.Errorf("key %q, want user_id %d", m.Key, d.UserID)
		}
		if p, ok := javaPartition3[string(m.Key)]; ok && p != m.Partition {
			t.Errorf("key %q in partition %d; Java's partitioner puts it in %d", m.Key, m.Partition, p)
		}
		if p, seen := keyPart[string(m.Key)]; seen && p != m.Partition {
			t.Errorf("key %q in partitions %d and %d", m.Key, p, m.Partition)
		}
		keyPart[string(m.Key)] = m.Partition
		src := where[d.EventID]
		if d.KafkaPartition != src.Partition || d.KafkaOffset != src.Offset || d.KafkaKey == nil || *d.KafkaKey != string(src.Key) {
			t.Errorf("metadata %s does not match the input at %d@%d key %q", m.Value, src.Partition, src.Offset, src.Key)
		}
		if d.KafkaTimestamp < time.Now().Add(-time.Hour).UnixMilli() {
			t.Errorf("_kafka_timestamp %d is not a recent time in ms", d.KafkaTimestamp)
		}
	}
	if len(keyPart) != 7 {
		t.Errorf("saw %d distinct keys, want 7", len(keyPart))
	}
	if sum.In != 1000 || sum.Out != int64(len(got)) || sum.Filtered != int64(1000-len(got)) {
		t.Errorf("summary %s; want in=1000 out=%d filtered=%d", sum, len(got), 1000-len(got))
	}
	assertCommittedToEnd(t, env, group, in)
}

func assertCommittedToEnd(t *testing.T, env kafkatest.Env, group, topic string) {
	t.Helper()
	committed, ends := env.Committed(t, group, topic), env.EndOffsets(t, topic)
	for p, end := range ends {
		if committed[p] != end {
			t.Errorf("partition %d: committed %d, want end offset %d (all: %v of %v)", p, committed[p], end, committed, ends)
		}
	}
}

// Example 1 as the spec writes it: consume into output/events.json.
func TestIntegrationExample1Consumer(t *testing.T) {
	env := kafkatest.Start(t)
	topic, group := kafkatest.Name("events"), kafkatest.Name("conveyor-consumer")
	env.CreateTopic(t, topic, 3)
	msgs, _ := events(1000)
	msgs[7] = kafkatest.Msg{Partition: 1, Value: []byte(`[1,2,3]`)} // JSON, but not an object: wrapped
	env.Produce(t, topic, msgs)

	dir := t.TempDir()
	text := example(t, "kafka-consumer-example.toml", env, `"events"`, fmt.Sprintf("%q", topic), `"conveyor-consumer"`, fmt.Sprintf("%q", group))
	runFile(t, writePipeline(t, dir, text))

	raw, err := os.ReadFile(filepath.Join(dir, "output", "events.json"))
	if err != nil {
		t.Fatal(err)
	}
	var recs []decoded
	if err := json.Unmarshal(raw, &recs); err != nil {
		t.Fatalf("output/events.json is not a JSON array: %v", err)
	}
	if len(recs) != 1000 {
		t.Fatalf("%d records in the file, want 1000", len(recs))
	}
	ids, wrapped := map[string]bool{}, 0
	for _, r := range recs {
		if r.KafkaPayload != nil {
			wrapped++
			if *r.KafkaPayload != "[1,2,3]" || r.KafkaKey != nil || r.KafkaPartition != 1 {
				t.Errorf("wrapped record %+v", r)
			}
			continue
		}
		ids[r.EventID] = true
	}
	if wrapped != 1 || len(ids) != 999 {
		t.Errorf("%d wrapped and %d distinct events; want 1 and 999", wrapped, len(ids))
	}
	assertCommittedToEnd(t, env, group, topic)
}

// Example 2 as the spec writes it: data/events.json into a topic keyed by
// event_id.
func TestIntegrationExample2Producer(t *testing.T) {
	env := kafkatest.Start(t)
	topic := kafkatest.Name("output-events")
	env.CreateTopic(t, topic, 3)
	dir := t.TempDir()
	data, _ := examples.FS.ReadFile("data/events.json")
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data", "events.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	text := example(t, "kafka-producer-example.toml", env, `"output-events"`, fmt.Sprintf("%q", topic))
	sum := runFile(t, writePipeline(t, dir, text))

	var file []map[string]any
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	got := env.ReadAll(t, topic)
	if len(got) != len(file) || sum.Out != int64(len(file)) {
		t.Fatalf("topic has %d records (summary out=%d), file has %d", len(got), sum.Out, len(file))
	}
	byID := map[string]map[string]any{}
	for _, e := range file {
		byID[e["event_id"].(string)] = e
	}
	for _, m := range got {
		var v map[string]any
		if err := json.Unmarshal(m.Value, &v); err != nil {
			t.Fatal(err)
		}
		want, ok := byID[string(m.Key)]
		if !ok {
			t.Fatalf("record keyed %q: no such event_id", m.Key)
		}
		if fmt.Sprint(v) != fmt.Sprint(want) {
			t.Errorf("record %s differs from the file's %v", m.Value, want)
		}
	}
}
