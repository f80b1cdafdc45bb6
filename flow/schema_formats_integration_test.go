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

	"github.com/bufbuild/protocompile"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/kafkatest"
)

const orderProto = `syntax = "proto3";
package shop;

enum Status { NEW = 0; PAID = 1; }

message Ship { string city = 1; }

message Order {
  string user_id = 1;
  int64 order_id = 2;
  double amount = 3;
  Status status = 4;
  repeated string items = 5;
  map<string, int64> attrs = 6;
  Ship ship = 7;
  bytes raw = 8;
}
`

func orderDescriptor(t *testing.T) protoreflect.MessageDescriptor {
	return protoMessage(t, orderProto, "Order")
}

// protoMessage compiles the .proto text and returns its message name.
func protoMessage(t *testing.T, text, name string) protoreflect.MessageDescriptor {
	t.Helper()
	comp := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
		Accessor: protocompile.SourceAccessorFromMap(map[string]string{"m.proto": text})})}
	files, err := comp.Compile(context.Background(), "m.proto")
	if err != nil {
		t.Fatal(err)
	}
	return files[0].Messages().ByName(protoreflect.Name(name))
}

// runSchemaETL runs the schema pipeline over msgs (bounded by their
// count) and returns the messages written and the dead letters.
func runSchemaETL(t *testing.T, env kafkatest.Env, in, out string, msgs []kafkatest.Msg, source, sink string) ([]kafkatest.Msg, []string) {
	t.Helper()
	env.Produce(t, in, msgs)
	dead := filepath.Join(t.TempDir(), "dead.jsonl")
	text := schemaPipeline(env.BrokerList(), in, out, kafkatest.Name("g"),
		fmt.Sprintf("max_messages = %d\ntimeout_ms = 60000\n%s", len(msgs), source), sink,
		fmt.Sprintf("[error_handling]\nstrategy = \"continue\"\n[error_handling.dead_letter_queue]\npath = %q\n", dead))
	p, err := config.Parse("schema.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sum, err := flow.Execute(ctx, p)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	t.Logf("summary: %s", sum)
	var deadLines []string
	if _, err := os.Stat(dead); err == nil {
		deadLines = readLines(t, dead)
	}
	return env.ReadAll(t, out), deadLines
}

// orderIndex is Order's message indexes in Confluent's wire format: one
// index (zigzag 1 = 2), the second message of the file (zigzag 1 = 2).
var orderIndex = []byte{2, 2}

// TestIntegrationSchemaProtobufRoundTrip: Protobuf messages (nested
// message, enum, repeated, map, bytes, 64-bit integer) of the file's
// second message through the filter and back to Protobuf come out equal
// to those that went in (proto.Equal), in the wire format with the sink's
// registered id and the message's indexes (protobuf_message).
func TestIntegrationSchemaProtobufRoundTrip(t *testing.T) {
	env := kafkatest.Start(t)
	url, _ := schemaRegistry(t)
	cl := srClient(t, url)
	in, out := kafkatest.Name("orders-pb"), kafkatest.Name("big-orders-pb")
	env.CreateTopic(t, in, 3)
	env.CreateTopic(t, out, 3)
	id := register(t, cl, in+"-value", sr.TypeProtobuf, orderProto)
	md := orderDescriptor(t)
	want := map[int64]proto.Message{}
	var msgs []kafkatest.Msg
	for i := range 60 {
		js := fmt.Sprintf(`{"user_id":"u%d","order_id":"%d","amount":%d.5,"status":"PAID","items":["a","b%d"],"attrs":{"n":"%d"},"ship":{"city":"Köln"},"raw":"AAE="}`, i%7, 9007199254740993+i, i*5, i, -i)
		m := dynamicpb.NewMessage(md)
		if err := protojson.Unmarshal([]byte(js), m); err != nil {
			t.Fatal(err)
		}
		body, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, kafkatest.Msg{Partition: int32(i % 3), Value: wire(id, append(orderIndex, body...))})
		if i*5 >= 100 {
			want[9007199254740993+int64(i)] = m
		}
	}
	dir := t.TempDir()
	schemaFile := filepath.Join(dir, "order.proto")
	if err := os.WriteFile(schemaFile, []byte(orderProto), 0o644); err != nil {
		t.Fatal(err)
	}
	written, dead := runSchemaETL(t, env, in, out, msgs,
		fmt.Sprintf("value_format = \"protobuf\"\nschema_registry_url = %q", url),
		fmt.Sprintf("key_field = \"user_id\"\nvalue_format = \"protobuf\"\nschema_registry_url = %q\nschema_file = %q", url, schemaFile)+"\nprotobuf_message = \"shop.Order\"")
	if len(dead) != 0 {
		t.Fatalf("dead letters: %q", dead)
	}
	latest, err := cl.SchemaByVersion(context.Background(), out+"-value", -1)
	if err != nil {
		t.Fatal(err)
	}
	if len(written) != len(want) {
		t.Fatalf("wrote %d, want %d", len(written), len(want))
	}
	for _, w := range written {
		v := w.Value
		if len(v) < 7 || v[0] != 0 || int(binary.BigEndian.Uint32(v[1:5])) != latest.ID || string(v[5:7]) != string(orderIndex) {
			t.Fatalf("value %x: want the wire format with id %d and Order's message indexes", v, latest.ID)
		}
		m := dynamicpb.NewMessage(md)
		if err := proto.Unmarshal(v[7:], m); err != nil {
			t.Fatal(err)
		}
		id := m.Get(md.Fields().ByName("order_id")).Int()
		if !proto.Equal(m, want[id]) {
			t.Fatalf("order %d: wrote %v, want %v", id, m, want[id])
		}
		delete(want, id)
	}
}

const ordersJSONSchema = `{"$schema":"https://json-schema.org/draft/2020-12/schema","title":"Order","type":"object",
 "properties":{"user_id":{"type":"string"},"order_id":{"type":"integer"},"amount":{"type":"number"},"tags":{"type":"array","items":{"type":"string"}}},
 "required":["user_id","order_id","amount"]}`

// TestIntegrationSchemaJSONSchemaRoundTrip: JSON Schema values through the
// filter and back come out as they went in (less nothing, plus nothing:
// the record's _kafka_* metadata is not written); a record the sink's
// schema refuses (amount above its maximum) fails alone into the
// dead-letter queue, saying why, and the records around it are written.
func TestIntegrationSchemaJSONSchemaRoundTrip(t *testing.T) {
	env := kafkatest.Start(t)
	url, _ := schemaRegistry(t)
	cl := srClient(t, url)
	in, out := kafkatest.Name("orders-js"), kafkatest.Name("big-orders-js")
	env.CreateTopic(t, in, 1)
	env.CreateTopic(t, out, 1)
	id := register(t, cl, in+"-value", sr.TypeJSON, ordersJSONSchema)
	var msgs []kafkatest.Msg
	want := map[string]bool{}
	for i := range 40 {
		amount := i * 10
		if i == 20 {
			amount = 5000 // above the sink schema's maximum
		}
		js := fmt.Sprintf(`{"user_id":"u%d","order_id":%d,"amount":%d,"tags":["x","y%d"]}`, i, i, amount, i)
		msgs = append(msgs, kafkatest.Msg{Partition: 0, Value: wire(id, []byte(js))})
		if amount >= 100 && amount <= 1000 {
			want[js] = true
		}
	}
	strict := strings.Replace(ordersJSONSchema, `"amount":{"type":"number"}`, `"amount":{"type":"number","maximum":1000}`, 1)
	schemaFile := filepath.Join(t.TempDir(), "order.schema.json")
	if err := os.WriteFile(schemaFile, []byte(strict), 0o644); err != nil {
		t.Fatal(err)
	}
	written, dead := runSchemaETL(t, env, in, out, msgs,
		fmt.Sprintf("value_format = \"json_schema\"\nschema_registry_url = %q", url),
		fmt.Sprintf("key_field = \"user_id\"\nvalue_format = \"json_schema\"\nschema_registry_url = %q\nschema_file = %q\nsubject_name_strategy = \"topic_record_name\"", url, schemaFile))
	latest, err := cl.SchemaByVersion(context.Background(), out+"-Order", -1)
	if err != nil {
		t.Fatalf("subject %s-Order (topic_record_name): %v", out, err)
	}
	for _, w := range written {
		v := w.Value
		if len(v) < 5 || v[0] != 0 || int(binary.BigEndian.Uint32(v[1:5])) != latest.ID {
			t.Fatalf("value %q: want the wire format with id %d", v, latest.ID)
		}
		if !want[string(v[5:])] {
			t.Fatalf("wrote %s, not one of the records to write (or twice)", v[5:])
		}
		delete(want, string(v[5:]))
	}
	if len(want) != 0 {
		t.Fatalf("not written: %v", want)
	}
	if len(dead) != 1 || !strings.Contains(dead[0], `"amount":5000`) || !strings.Contains(dead[0], "does not fit the JSON schema") || !strings.Contains(dead[0], "maximum") {
		t.Fatalf("dead letters: %q", dead)
	}
	var d map[string]any
	_ = json.Unmarshal([]byte(dead[0]), &d)
	t.Logf("dead letter: %v", d)
}
