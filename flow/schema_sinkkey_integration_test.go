package flow_test

import (
	"context"
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
	env, cl, url, in, out := keyTopics(t, "sk")
	const n = 40
	var msgs []kafkatest.Msg
	for i := range n {
		region := []string{"EU", "US"}[i%2]
		if i == 7 {
			region = "ASIA"
		}
		msgs = append(msgs, kafkatest.Msg{Partition: int32(i % 3),
			Value: []byte(fmt.Sprintf(`{"order_id":%d,"amount":100,"k":{"user_id":"u%d","region":%q}}`, i, i, region))})
	}
	written, dead := runSchemaETL(t, env, in, out, msgs, "",
		fmt.Sprintf("key_field = \"k\"\nkey_format = \"avro\"\nkey_schema_file = %q\nschema_registry_url = %q",
			writeFile(t, t.TempDir(), "key.avsc", []byte(orderKeySchema)), url))

	latest, keys := keysWritten(t, cl, out, written)
	ks := avro.MustParse(latest.Schema.Schema)
	for order, k := range keys {
		var got map[string]any
		if err := avro.Unmarshal(ks, k, &got); err != nil {
			t.Fatalf("key %x of order %d does not decode: %v", k, order, err)
		}
		want := map[string]any{"user_id": fmt.Sprintf("u%d", order), "region": []string{"EU", "US"}[order%2]}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("key of order %d decodes to %v, want %v", order, got, want)
		}
	}
	if len(keys) != n-1 || keys[7] != nil {
		t.Fatalf("wrote %d distinct records (7 among them: %v), want the %d that fit", len(keys), keys[7] != nil, n-1)
	}
	if len(dead) != 1 || !strings.Contains(dead[0], "key_field k") || !strings.Contains(dead[0], "ASIA") {
		t.Fatalf("dead letters: %q", dead)
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
			fmt.Sprintf("key_field = \"user_id\"\nkey_format = \"avro\"\nschema_registry_url = %q\n%s", url, c.sink), "")
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
