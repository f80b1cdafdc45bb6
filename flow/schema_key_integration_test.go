package flow_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/kafkatest"
)

// TestIntegrationSchemaAvroKeys: a source with key_format = "avro" puts
// each key, an Avro record in the wire format, into _kafka_key as its JSON
// object with _kafka_key_schema_id, so the sink's key_field reaches into
// it; a null key stays null; a key not in the wire format goes by invalid
// (here to the dead-letter queue, naming the key) and the records around
// it come through.
func TestIntegrationSchemaAvroKeys(t *testing.T) {
	env := kafkatest.Start(t)
	url, _ := schemaRegistry(t)
	cl := srClient(t, url)
	in, out, group := kafkatest.Name("keyed"), kafkatest.Name("keyed-out"), kafkatest.Name("g")
	env.CreateTopic(t, in, 3)
	env.CreateTopic(t, out, 3)
	const keySchema = `{"type":"record","name":"OrderKey","namespace":"shop","fields":[
  {"name":"user_id","type":"string"},{"name":"region","type":{"type":"enum","name":"Region","symbols":["EU","US"]}}]}`
	id := register(t, cl, in+"-key", sr.TypeAvro, keySchema)
	ks := avro.MustParse(keySchema)
	type orderKey struct {
		UserID string `avro:"user_id"`
		Region string `avro:"region"`
	}
	const n = 60
	var msgs []kafkatest.Msg
	for i := range n {
		k, err := avro.Marshal(ks, orderKey{UserID: fmt.Sprintf("u%d", i), Region: []string{"EU", "US"}[i%2]})
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, kafkatest.Msg{Partition: int32(i % 3), Key: wire(id, k), Value: []byte(fmt.Sprintf(`{"order_id":%d}`, i))})
	}
	msgs = append(msgs,
		kafkatest.Msg{Partition: 0, Value: []byte(`{"order_id":1000}`)}, // no key
		kafkatest.Msg{Partition: 1, Key: []byte("plain"), Value: []byte(`{"order_id":1001}`)})
	env.Produce(t, in, msgs)

	dead := filepath.Join(t.TempDir(), "dead.jsonl")
	text := fmt.Sprintf(`
[pipeline]
name = "schema-keys"

[[stages]]
id = "consume"
function = "kafka"
[stages.config]
brokers = %q
topic = %q
group_id = %q
max_messages = %d
timeout_ms = 60000
key_format = "avro"
schema_registry_url = %q
invalid = "dead_letter"

[[stages]]
id = "produce"
function = "kafka"
inputs = ["consume"]
[stages.config]
brokers = %q
topic = %q
key_field = "_kafka_key.user_id"

[error_handling]
strategy = "continue"
[error_handling.dead_letter_queue]
path = %q
`, env.BrokerList(), in, group, n+2, url, env.BrokerList(), out, dead)
	p, err := config.Parse("keys.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := flow.Execute(ctx, p); err != nil {
		t.Fatalf("run: %v", err)
	}

	seen := map[int]bool{}
	for _, m := range env.ReadAll(t, out) {
		var rec struct {
			OrderID int             `json:"order_id"`
			Key     json.RawMessage `json:"_kafka_key"`
			KeyID   *int            `json:"_kafka_key_schema_id"`
		}
		if err := json.Unmarshal(m.Value, &rec); err != nil {
			t.Fatalf("output %s: %v", m.Value, err)
		}
		seen[rec.OrderID] = true
		if rec.OrderID == 1000 {
			if string(rec.Key) != "null" || rec.KeyID != nil || m.Key != nil {
				t.Fatalf("the unkeyed message came out as %s with key %q", m.Value, m.Key)
			}
			continue
		}
		var k map[string]string
		if err := json.Unmarshal(rec.Key, &k); err != nil {
			t.Fatalf("_kafka_key of %s is not an object: %v", m.Value, err)
		}
		want := map[string]string{"user_id": fmt.Sprintf("u%d", rec.OrderID), "region": []string{"EU", "US"}[rec.OrderID%2]}
		if fmt.Sprint(k) != fmt.Sprint(want) || rec.KeyID == nil || *rec.KeyID != id {
			t.Fatalf("record %s: key %v (schema id %v), want %v (id %d)", m.Value, k, rec.KeyID, want, id)
		}
		if string(m.Key) != want["user_id"] {
			t.Fatalf("written with key %q, want %q (key_field into the decoded key)", m.Key, want["user_id"])
		}
	}
	if len(seen) != n+1 || seen[1001] {
		t.Fatalf("wrote %d distinct records (1001 among them: %v), want the %d keyed ones and the unkeyed one", len(seen), seen[1001], n)
	}
	lines := readLines(t, dead)
	if len(lines) != 1 || !strings.Contains(lines[0], "key: ") || !strings.Contains(lines[0], "not in the schema registry's wire format") || !strings.Contains(lines[0], "order_id") {
		t.Fatalf("dead letters: %q", lines)
	}
}
