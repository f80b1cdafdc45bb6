package flow_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/conveyor-etl/conveyor/internal/kafkatest"
)

// A Kafka → Kafka pipeline keeps what travels around the value: each
// record's headers (W3C traceparent, a repeated name in order, a value that
// is not UTF-8) and timestamp reach the output as they came, plus the
// sink's static header; topic_expr sends each country to its own topic,
// key_expr makes the key and the key picks the partition as Java's murmur2
// does; fields.drop and fields.set shape the value. A record whose topic
// would not be a valid name is dead-lettered with the value named, and the
// records around it are written. Both delivery modes.
func TestIntegrationKafkaRecords(t *testing.T) {
	for _, delivery := range []string{"batch", "per-message"} {
		t.Run(delivery, func(t *testing.T) { testKafkaRecords(t, delivery) })
	}
}

// murmur2 is Java's org.apache.kafka.common.utils.Utils.murmur2, written
// here from its source so that the test does not check the sink's
// partitioner against itself.
func murmur2(data []byte) int32 {
	const m, r = 0x5bd1e995, 24
	h := uint32(0x9747b28c) ^ uint32(len(data))
	n := len(data) / 4
	for i := range n {
		k := binary.LittleEndian.Uint32(data[4*i:])
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	tail := data[4*n:]
	switch len(tail) {
	case 3:
		h ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(tail[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}

func testKafkaRecords(t *testing.T, delivery string) {
	if got := murmur2([]byte("21")); got != -973932308 { // Kafka's UtilsTest
		t.Fatalf("the test's murmur2 is not Java's: %d", got)
	}
	env := kafkatest.Start(t)
	parallelOnRealBroker(t, env)
	in, group := kafkatest.Name("orders-in"), kafkatest.Name("g")
	prefix := kafkatest.Name("orders") + "-" // the topics are prefix + country
	countries := []string{"FR", "DE", "IT"}
	env.CreateTopic(t, in, 3)
	const outParts = 5
	for _, c := range countries {
		env.CreateTopic(t, prefix+strings.ToLower(c), outParts)
	}

	// n records over the three countries, and one whose topic would be
	// "<prefix>x y", not a valid name.
	const n = 60
	// an hour ago, not older: an older timestamp than the topic's
	// retention.ms (7 days by default) lets a real broker delete the
	// records as soon as they are written
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	type input struct {
		value     string
		headers   []sarama.RecordHeader
		timestamp time.Time
		country   string
		user      string
	}
	var inputs []input
	var msgs []kafkatest.Msg
	for i := range n + 1 {
		country, user := countries[i%3], fmt.Sprintf("u%d", i%7)
		if i == n {
			country = "X Y"
		}
		v := fmt.Sprintf(`{"id":%d,"user_id":"%s","country":"%s","price":%d.5,"qty":%d,"note":"internal %d","test":false}`, i, user, country, i, i%4+1, i)
		hs := []sarama.RecordHeader{
			{Key: []byte("traceparent"), Value: []byte(fmt.Sprintf("00-%032x-%016x-01", i+1, i+7))},
			{Key: []byte("tag"), Value: []byte("first")},
			{Key: []byte("bin"), Value: []byte{0xff, 0xfe, byte(i)}},
			{Key: []byte("tag"), Value: []byte("second")},
		}
		ts := base.Add(time.Duration(i) * time.Second)
		inputs = append(inputs, input{value: v, headers: hs, timestamp: ts, country: country, user: user})
		msgs = append(msgs, kafkatest.Msg{Partition: int32(i % 3), Key: []byte(fmt.Sprintf("in-%d", i)), Value: []byte(v), Headers: hs, Timestamp: ts})
	}
	env.Produce(t, in, msgs)

	dir := t.TempDir()
	text := fmt.Sprintf(`
[[stages]]
id = "consume"
function = "kafka"
[stages.config]
brokers = %[1]q
topic = %[2]q
group_id = %[3]q
max_messages = %[4]d
delivery = %[5]q

[[stages]]
id = "shape"
function = "fields.set"
inputs = ["consume"]
[stages.config]
set = { total = "price * qty", source = "'web'" }

[[stages]]
id = "trim"
function = "fields.drop"
inputs = ["shape"]
[stages.config]
fields = ["note", "_kafka_offset", "_kafka_partition"]

[[stages]]
id = "produce"
function = "kafka"
inputs = ["trim"]
[stages.config]
brokers = %[1]q
topic_expr = "'%[6]s' + lower(country)"
key_expr = "user_id + ':' + country"
headers = { source = "conveyor", traceparent = "never-used" }
delivery = %[5]q

[error_handling]
strategy = "continue"
dead_letter_queue = { path = "dead.jsonl" }
`, env.BrokerList(), in, group, n+1, delivery, prefix)
	sum := runFile(t, writePipeline(t, dir, text))
	if sum.In != n+1 || sum.Failed != 1 {
		t.Errorf("summary %s; want in=%d failed=1", sum, n+1)
	}

	// The record with no valid topic is dead-lettered, naming the value.
	dead, err := os.ReadFile(filepath.Join(dir, "dead.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf(`topic_expr gave \"%sx y\", which is not a valid topic name`, prefix); bytes.Count(dead, []byte("\n")) != 1 || !bytes.Contains(dead, []byte(want)) {
		t.Errorf("dead letters:\n%s\nwant one, with %s", dead, want)
	}

	byID := map[int]kafkatest.Msg{}
	topicOf := map[int]string{}
	for _, c := range countries {
		topic := prefix + strings.ToLower(c)
		for _, m := range env.ReadAll(t, topic) {
			var v struct{ ID int }
			if err := json.Unmarshal(m.Value, &v); err != nil {
				t.Fatalf("%s: %q is not JSON: %v", topic, m.Value, err)
			}
			if _, dup := byID[v.ID]; dup {
				t.Errorf("record %d written twice", v.ID)
			}
			byID[v.ID], topicOf[v.ID] = m, topic
		}
	}
	if len(byID) != n {
		t.Fatalf("the output topics hold %d records, want %d", len(byID), n)
	}
	for i, in := range inputs[:n] {
		m := byID[i]
		if want := prefix + strings.ToLower(in.country); topicOf[i] != want {
			t.Errorf("record %d went to %s, want %s", i, topicOf[i], want)
		}
		key := in.user + ":" + in.country
		if string(m.Key) != key {
			t.Errorf("record %d: key %q, want %q", i, m.Key, key)
		}
		if want := (murmur2([]byte(key)) & 0x7fffffff) % outParts; m.Partition != want {
			t.Errorf("record %d (key %s): partition %d, Java's murmur2 puts it on %d", i, key, m.Partition, want)
		}
		if !m.Timestamp.Equal(in.timestamp) {
			t.Errorf("record %d: timestamp %v, want the input's %v", i, m.Timestamp, in.timestamp)
		}
		// the input's headers, grouped by name in first-appearance order
		// (a repeated name's values in order), then the static ones the
		// record lacks
		wantHeaders := []sarama.RecordHeader{in.headers[0], in.headers[1], in.headers[3], in.headers[2], {Key: []byte("source"), Value: []byte("conveyor")}}
		if !slices.EqualFunc(m.Headers, wantHeaders, func(a, b sarama.RecordHeader) bool {
			return bytes.Equal(a.Key, b.Key) && bytes.Equal(a.Value, b.Value)
		}) {
			t.Errorf("record %d: headers %s, want %s", i, showHeaders(m.Headers), showHeaders(wantHeaders))
		}
		// the value: the input without note, fields.set's fields at the
		// end, the source's metadata less what fields.drop took, and no
		// _kafka_headers (they went out as headers)
		var price float64
		var qty int
		fmt.Sscanf(strings.SplitN(strings.SplitN(in.value, `"price":`, 2)[1], ",", 2)[0], "%g", &price)
		fmt.Sscanf(strings.SplitN(strings.SplitN(in.value, `"qty":`, 2)[1], ",", 2)[0], "%d", &qty)
		wantValue := fmt.Sprintf(`{"id":%d,"user_id":"%s","country":"%s","price":%d.5,"qty":%d,"test":false,"_kafka_key":"in-%d","_kafka_timestamp":%d,"total":%s,"source":"web"}`,
			i, in.user, in.country, i, qty, i, in.timestamp.UnixMilli(), jsonNumber(price*float64(qty)))
		if string(m.Value) != wantValue {
			t.Errorf("record %d: value\n %s\nwant\n %s", i, m.Value, wantValue)
		}
	}
}

func jsonNumber(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}

func showHeaders(hs []sarama.RecordHeader) string {
	var out []string
	for _, h := range hs {
		out = append(out, fmt.Sprintf("%s=%q", h.Key, h.Value))
	}
	return strings.Join(out, " ")
}

// topic_expr with create_topic = true creates each topic on first use,
// with the sink's partitions; without it, a missing topic fails its
// records (dead-lettered, naming the topic) and the others are written.
func TestIntegrationTopicExprCreatesTopics(t *testing.T) {
	env := kafkatest.Start(t)
	prefix := kafkatest.Name("made") + "-"
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	if err := os.WriteFile(in, []byte("{\"c\":\"a\",\"i\":1}\n{\"c\":\"b\",\"i\":2}\n{\"c\":\"a\",\"i\":3}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pipeline := func(create bool) string {
		extra := ""
		if create {
			extra = "create_topic = true\npartitions = 2\n"
		}
		return fmt.Sprintf(`
[[stages]]
id = "load"
function = "json.read"
[stages.config]
path = %q
format = "jsonl"

[[stages]]
id = "produce"
function = "kafka"
inputs = ["load"]
[stages.config]
brokers = %q
topic_expr = "'%s' + c"
%s
[error_handling]
strategy = "continue"
dead_letter_queue = { path = "dead.jsonl" }
`, in, env.BrokerList(), prefix, extra)
	}
	sum := runFile(t, writePipeline(t, dir, pipeline(false)))
	dead, _ := os.ReadFile(filepath.Join(dir, "dead.jsonl"))
	if sum.Failed != 3 || !bytes.Contains(dead, []byte(prefix+`a\": the topic does not exist: create it first, or set create_topic = true`)) {
		t.Errorf("without create_topic: summary %s, dead letters:\n%s", sum, dead)
	}
	sum = runFile(t, writePipeline(t, dir, pipeline(true)))
	if sum.Failed != 0 {
		t.Fatalf("with create_topic: summary %s", sum)
	}
	for topic, n := range map[string]int{prefix + "a": 2, prefix + "b": 1} {
		if got := env.ReadAll(t, topic); len(got) != n {
			t.Errorf("%s holds %d records, want %d", topic, len(got), n)
		}
		if parts := env.EndOffsets(t, topic); len(parts) != 2 {
			t.Errorf("%s has %d partitions, want 2 (the sink's partitions)", topic, len(parts))
		}
	}
}
