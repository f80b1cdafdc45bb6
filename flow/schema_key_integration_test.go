package flow_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/conveyor-etl/conveyor/internal/kafkatest"
)

// orderKeySchema is the Avro key of the key tests: a record of a string
// and an enum.
const orderKeySchema = `{"type":"record","name":"OrderKey","namespace":"shop","fields":[
  {"name":"user_id","type":"string"},{"name":"region","type":{"type":"enum","name":"Region","symbols":["EU","US"]}}]}`

type orderKey struct {
	UserID string `avro:"user_id"`
	Region string `avro:"region"`
}

// keyTopics starts the broker and the registry (schemaRegistry) for a key
// test, with topics in and out of 3 partitions each, named after name.
func keyTopics(t *testing.T, name string) (env kafkatest.Env, cl *sr.Client, url, in, out string) {
	t.Helper()
	env = kafkatest.Start(t)
	url, _ = schemaRegistry(t)
	in, out = kafkatest.Name(name), kafkatest.Name(name+"-out")
	env.CreateTopic(t, in, 3)
	env.CreateTopic(t, out, 3)
	return env, srClient(t, url), url, in, out
}

// keysWritten checks that the key of each message written is in the wire
// format with the id of the latest schema of the subject "<out>-key",
// and returns that schema and the keys after the id, by the order_id of
// their values.
func keysWritten(t *testing.T, cl *sr.Client, out string, written []kafkatest.Msg) (sr.SubjectSchema, map[int][]byte) {
	t.Helper()
	latest, err := cl.SchemaByVersion(context.Background(), out+"-key", -1)
	if err != nil {
		t.Fatalf("subject %s-key: %v", out, err)
	}
	keys := map[int][]byte{}
	for _, m := range written {
		var rec struct {
			OrderID int `json:"order_id"`
		}
		if err := json.Unmarshal(m.Value, &rec); err != nil {
			t.Fatalf("output %s: %v", m.Value, err)
		}
		k := m.Key
		if len(k) < 5 || k[0] != 0 || int(binary.BigEndian.Uint32(k[1:5])) != latest.ID {
			t.Fatalf("key %x of %s: want the wire format with id %d", k, m.Value, latest.ID)
		}
		keys[rec.OrderID] = k[5:]
	}
	return latest, keys
}

// keyedOrder is the value of the key tests' messages: the filter of
// schemaPipeline keeps it.
func keyedOrder(i int) []byte { return []byte(fmt.Sprintf(`{"order_id":%d,"amount":100}`, i)) }

// TestIntegrationSchemaAvroKeys: a source with key_format = "avro" puts
// each key, an Avro record in the wire format, into _kafka_key as its JSON
// object with _kafka_key_schema_id, so the sink's key_field reaches into
// it; a null key stays null; a key not in the wire format goes by invalid
// (here to the dead-letter queue, naming the key) and the records around
// it come through.
func TestIntegrationSchemaAvroKeys(t *testing.T) {
	env, cl, url, in, out := keyTopics(t, "keyed")
	id := register(t, cl, in+"-key", sr.TypeAvro, orderKeySchema)
	ks := avro.MustParse(orderKeySchema)
	const n = 60
	var msgs []kafkatest.Msg
	for i := range n {
		k, err := avro.Marshal(ks, orderKey{UserID: fmt.Sprintf("u%d", i), Region: []string{"EU", "US"}[i%2]})
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, kafkatest.Msg{Partition: int32(i % 3), Key: wire(id, k), Value: keyedOrder(i)})
	}
	msgs = append(msgs,
		kafkatest.Msg{Partition: 0, Value: keyedOrder(1000)}, // no key
		kafkatest.Msg{Partition: 1, Key: []byte("plain"), Value: keyedOrder(1001)})
	written, dead := runSchemaETL(t, env, in, out, msgs,
		fmt.Sprintf("key_format = \"avro\"\nschema_registry = { url = %q }\ninvalid = \"dead_letter\"", url),
		`key_field = "_kafka_key.user_id"`)

	seen := map[int]bool{}
	for _, m := range written {
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
	if len(dead) != 1 || !strings.Contains(dead[0], "key: ") || !strings.Contains(dead[0], "not in the schema registry's wire format") || !strings.Contains(dead[0], "order_id") {
		t.Fatalf("dead letters: %q", dead)
	}
}

const (
	orderKeyProto = `syntax = "proto3";
package shop;

enum Region { EU = 0; US = 1; }

message OrderKey {
  string user_id = 1;
  Region region = 2;
  int64 shard = 3;
}
`
	orderKeyJSONSchema = `{"$schema":"https://json-schema.org/draft/2020-12/schema","title":"OrderKey","type":"object",
 "properties":{"user_id":{"type":"string"},"region":{"enum":["EU","US"]},"shard":{"type":"integer"}},
 "required":["user_id","region"],"additionalProperties":false}`
)

// TestIntegrationSchemaKeysRoundTrip: Protobuf and JSON Schema keys in
// the wire format, decoded by a source's key_format into _kafka_key and
// written by a sink's key_format (key_field = "_kafka_key") with the same
// schema, registered under "<out>-key" (the registry given as a
// [stages.config.schema_registry] table), come out in the wire format
// with that subject's id and decode to the keys that went in.
func TestIntegrationSchemaKeysRoundTrip(t *testing.T) {
	md := protoMessage(t, orderKeyProto, "OrderKey")
	protoKey := func(i int) proto.Message {
		m := dynamicpb.NewMessage(md)
		js := fmt.Sprintf(`{"user_id":"u%d","region":%q,"shard":"%d"}`, i, []string{"EU", "US"}[i%2], 9007199254740993+i)
		if err := protojson.Unmarshal([]byte(js), m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	jsonKey := func(i int) []byte {
		return []byte(fmt.Sprintf(`{"user_id":"u%d","region":%q,"shard":%d}`, i, []string{"EU", "US"}[i%2], i))
	}
	for _, c := range []struct {
		format, file, text string
		typ                sr.SchemaType
		encode             func(i int) []byte            // the key after the schema id
		same               func(got []byte, i int) error // got: the written key after the schema id
	}{
		{"protobuf", "key.proto", orderKeyProto, sr.TypeProtobuf,
			func(i int) []byte {
				b, err := proto.Marshal(protoKey(i))
				if err != nil {
					t.Fatal(err)
				}
				return append([]byte{0}, b...) // the first message: one zero index
			},
			func(got []byte, i int) error {
				if len(got) == 0 || got[0] != 0 {
					return fmt.Errorf("message indexes %x, want 00 (the first message)", got)
				}
				m := dynamicpb.NewMessage(md)
				if err := proto.Unmarshal(got[1:], m); err != nil {
					return err
				}
				if !proto.Equal(m, protoKey(i)) {
					return fmt.Errorf("decodes to %v, want %v", m, protoKey(i))
				}
				return nil
			}},
		{"json_schema", "key.schema.json", orderKeyJSONSchema, sr.TypeJSON, jsonKey,
			func(got []byte, i int) error {
				var g, w any
				if err := json.Unmarshal(got, &g); err != nil {
					return err
				}
				if err := json.Unmarshal(jsonKey(i), &w); err != nil {
					return err
				}
				if !reflect.DeepEqual(g, w) {
					return fmt.Errorf("is %s, want %s", got, jsonKey(i))
				}
				return nil
			}},
	} {
		t.Run(c.format, func(t *testing.T) {
			env, cl, url, in, out := keyTopics(t, "keys-"+strings.ReplaceAll(c.format, "_", "-"))
			id := register(t, cl, in+"-key", c.typ, c.text)
			const n = 30
			var msgs []kafkatest.Msg
			for i := range n {
				msgs = append(msgs, kafkatest.Msg{Partition: int32(i % 3), Key: wire(id, c.encode(i)), Value: keyedOrder(i)})
			}
			written, dead := runSchemaETL(t, env, in, out, msgs,
				fmt.Sprintf("key_format = %q\nschema_registry = { url = %q }", c.format, url),
				fmt.Sprintf("key_field = \"_kafka_key\"\nkey_format = %q\nkey_schema_file = %q\n[stages.config.schema_registry]\nurl = %q",
					c.format, writeFile(t, t.TempDir(), c.file, []byte(c.text)), url))
			if len(dead) != 0 {
				t.Fatalf("dead letters: %q", dead)
			}
			_, keys := keysWritten(t, cl, out, written)
			for order, k := range keys {
				if err := c.same(k, order); err != nil {
					t.Fatalf("key of order %d: %v", order, err)
				}
			}
			if len(keys) != n {
				t.Fatalf("wrote %d distinct records, want %d", len(keys), n)
			}
		})
	}
}
