package flow_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/kafkatest"
)

// TestIntegrationSchemaAvroSinkKeys: a sink with key_format = "avro"
// registers key_schema_file under "<topic>-key" and writes key_field's
// JSON value (an object) in the wire format: a zero byte, the registered
// id, the Avro binary, which decodes with that schema to the record's key;
// a key that does not fit (an enum symbol the schema lacks) fails its
// record alone into the dead-letter queue, naming the field, while the
// others are written.
func TestIntegrationSchemaAvroSinkKeys(t *testing.T) {
	env := kafkatest.Start(t)
	url, _ := schemaRegistry(t)
	cl := srClient(t, url)
	in, out, group := kafkatest.Name("sk"), kafkatest.Name("sk-out"), kafkatest.Name("g")
	env.CreateTopic(t, in, 3)
	env.CreateTopic(t, out, 3)
	const keySchema = `{"type":"record","name":"OrderKey","namespace":"shop","fields":[
  {"name":"user_id","type":"string"},{"name":"region","type":{"type":"enum","name":"Region","symbols":["EU","US"]}}]}`
	file := filepath.Join(t.TempDir(), "key.avsc")
	if err := os.WriteFile(file, []byte(keySchema), 0o600); err != nil {
		t.Fatal(err)
	}
	const n = 40
	var msgs []kafkatest.Msg
	for i := range n {
		region := []string{"EU", "US"}[i%2]
		if i == 7 {
			region = "ASIA"
		}
		msgs = append(msgs, kafkatest.Msg{Partition: int32(i % 3),
			Value: []byte(fmt.Sprintf(`{"order_id":%d,"k":{"user_id":"u%d","region":%q}}`, i, i, region))})
	}
	env.Produce(t, in, msgs)

	dead := filepath.Join(t.TempDir(), "dead.jsonl")
	text := fmt.Sprintf(`
[pipeline]
name = "schema-sink-keys"

[[stages]]
id = "consume"
function = "kafka"
[stages.config]
brokers = %q
topic = %q
group_id = %q
max_messages = %d
timeout_ms = 60000

[[stages]]
id = "produce"
function = "kafka"
inputs = ["consume"]
[stages.config]
brokers = %q
topic = %q
key_field = "k"
key_format = "avro"
key_schema_file = %q
schema_registry_url = %q

[error_handling]
strategy = "continue"
[error_handling.dead_letter_queue]
path = %q
`, env.BrokerList(), in, group, n, env.BrokerList(), out, file, url, dead)
	p, err := config.Parse("sinkkeys.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := flow.Execute(ctx, p); err != nil {
		t.Fatalf("run: %v", err)
	}

	latest, err := cl.SchemaByVersion(context.Background(), out+"-key", -1)
	if err != nil {
		t.Fatalf("subject %s-key: %v", out, err)
	}
	ks := avro.MustParse(latest.Schema.Schema)
	seen := map[int]bool{}
	for _, m := range env.ReadAll(t, out) {
		var rec struct {
			OrderID int `json:"order_id"`
		}
		if err := json.Unmarshal(m.Value, &rec); err != nil {
			t.Fatalf("output %s: %v", m.Value, err)
		}
		seen[rec.OrderID] = true
		k := m.Key
		if len(k) < 5 || k[0] != 0 || int(binary.BigEndian.Uint32(k[1:5])) != latest.ID {
			t.Fatalf("key %x of %s: want the wire format with id %d", k, m.Value, latest.ID)
		}
		var got map[string]any
		if err := avro.Unmarshal(ks, k[5:], &got); err != nil {
			t.Fatalf("key %x of %s does not decode: %v", k, m.Value, err)
		}
		want := map[string]any{"user_id": fmt.Sprintf("u%d", rec.OrderID), "region": []string{"EU", "US"}[rec.OrderID%2]}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("key of %s decodes to %v, want %v", m.Value, got, want)
		}
	}
	if len(seen) != n-1 || seen[7] {
		t.Fatalf("wrote %d distinct records (7 among them: %v), want the %d that fit", len(seen), seen[7], n-1)
	}
	lines := readLines(t, dead)
	if len(lines) != 1 || !strings.Contains(lines[0], "key_field k") || !strings.Contains(lines[0], "ASIA") {
		t.Fatalf("dead letters: %q", lines)
	}
}

// TestIntegrationSchemaSinkKeyRefused: a sink whose key schema cannot be
// had does not start, and the error names the stage, key_format and what
// is wrong: a key_schema_file that is not a schema names the file; with
// key_schema = "latest", a key subject the registry does not have names
// the subject.
func TestIntegrationSchemaSinkKeyRefused(t *testing.T) {
	env := kafkatest.Start(t)
	url, _ := schemaRegistry(t)
	in, out, group := kafkatest.Name("orders"), kafkatest.Name("out"), kafkatest.Name("g")
	env.CreateTopic(t, in, 1)
	env.CreateTopic(t, out, 1)
	bad := filepath.Join(t.TempDir(), "bad.avsc")
	if err := os.WriteFile(bad, []byte(`{"type":"record","name":"K","fields":[{"name":"a","type":"nope"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ sink, want string }{
		{fmt.Sprintf("key_schema_file = %q", bad), "key_schema_file " + bad},
		{"key_schema = \"latest\"", out + "-key"},
	} {
		text := schemaPipeline(env.BrokerList(), in, out, group, "max_messages = 1\ntimeout_ms = 5000",
			fmt.Sprintf("key_format = \"avro\"\nschema_registry_url = %q\n%s", url, c.sink), "")
		p, err := config.Parse("schema.toml", []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err = flow.Run(ctx, p)
		cancel()
		for _, want := range []string{`kafka sink "produce": key_format: `, c.want} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("%s: error %v, want it to say %q", c.sink, err, want)
			}
		}
	}
}
