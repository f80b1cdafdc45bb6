package flow_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/kafkatest"
)

// schemaRegistry is the registry SCHEMA_REGISTRY_URL names (a real one:
// scripts/apicurio.sh), else an in-process fake (franz-go's srfake), whose
// compatibility check always says yes.
func schemaRegistry(t *testing.T) (url string, real bool) {
	t.Helper()
	if v := os.Getenv("SCHEMA_REGISTRY_URL"); v != "" {
		t.Logf("using the schema registry at SCHEMA_REGISTRY_URL=%s", v)
		return v, true
	}
	f := srfake.New()
	t.Cleanup(f.Close)
	return f.URL(), false
}

func srClient(t *testing.T, url string) *sr.Client {
	t.Helper()
	cl, err := sr.NewClient(sr.URLs(url))
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func register(t *testing.T, cl *sr.Client, subject string, typ sr.SchemaType, text string) int {
	t.Helper()
	ss, err := cl.CreateSchema(context.Background(), subject, sr.Schema{Schema: text, Type: typ})
	if err != nil {
		t.Fatalf("register %s: %v", subject, err)
	}
	return ss.ID
}

// wire is Confluent's wire format of body under schema id, written here
// independently of the codec under test.
func wire(id int, body []byte) []byte {
	return append(binary.BigEndian.AppendUint32([]byte{0}, uint32(id)), body...)
}

// The producer's order events, v1 and v2 (an added optional field), and
// the sink's schema: a subset, plus the optional field.
const (
	ordersV1 = `{"type":"record","name":"Order","namespace":"shop","fields":[
  {"name":"user_id","type":"string"},{"name":"order_id","type":"long"},{"name":"amount","type":"double"},
  {"name":"country","type":"string"},{"name":"status","type":{"type":"enum","name":"Status","symbols":["NEW","PAID"]}}]}`
	ordersV2 = `{"type":"record","name":"Order","namespace":"shop","fields":[
  {"name":"user_id","type":"string"},{"name":"order_id","type":"long"},{"name":"amount","type":"double"},
  {"name":"country","type":"string"},{"name":"status","type":{"type":"enum","name":"Status","symbols":["NEW","PAID"]}},
  {"name":"coupon","type":["null","string"],"default":null}]}`
	bigOrders = `{"type":"record","name":"BigOrder","namespace":"shop.out","fields":[
  {"name":"order_id","type":"long"},{"name":"user_id","type":"string"},{"name":"amount","type":"double"},
  {"name":"status","type":{"type":"enum","name":"Status","symbols":["NEW","PAID"]}},
  {"name":"coupon","type":["null","string"],"default":null}]}`
)

type order struct {
	UserID  string  `avro:"user_id"`
	OrderID int64   `avro:"order_id"`
	Amount  float64 `avro:"amount"`
	Country string  `avro:"country"`
	Status  string  `avro:"status"`
	Coupon  *string `avro:"coupon"`
}

// schemaPipeline is Example 3's: kafka topic in, amount >= 100, kafka
// topic out, with source's and sink's keys added to the kafka stages and
// tables at the end.
func schemaPipeline(brokers, in, out, group, source, sink, tables string) string {
	return fmt.Sprintf(`
[pipeline]
name = "schema-etl"

[[stages]]
id = "consume"
function = "kafka"
[stages.config]
brokers = %q
topic = %q
group_id = %q
%s

[[stages]]
id = "filter"
function = "filter.apply"
inputs = ["consume"]
[stages.config]
column = "amount"
operator = ">="
value = "100"

[[stages]]
id = "produce"
function = "kafka"
inputs = ["filter"]
[stages.config]
brokers = %q
topic = %q
%s
%s`, brokers, in, group, source, brokers, out, sink, tables)
}

// TestIntegrationSchemaAvroETL is Example 3 on Avro: order events in Avro
// (v1, then v2 with an added optional field, registered while the
// pipeline runs), the filter, Avro out under a new subject. The output
// must be Confluent's wire format with the id the registry gave the
// sink's schema, and decode with that schema (fetched back from the
// registry) by hamba/avro, an independent decoder, to exactly the events
// with amount >= 100, coupons of v2 included. A value not in the wire
// format goes to the dead-letter queue with its bytes and reason.
func TestIntegrationSchemaAvroETL(t *testing.T) {
	env := kafkatest.Start(t)
	url, _ := schemaRegistry(t)
	cl := srClient(t, url)
	in, out, group := kafkatest.Name("orders"), kafkatest.Name("big-orders"), kafkatest.Name("g")
	env.CreateTopic(t, in, 6)
	env.CreateTopic(t, out, 6)
	idV1 := register(t, cl, in+"-value", sr.TypeAvro, ordersV1)
	dir := t.TempDir()
	outSchema := filepath.Join(dir, "big-order.avsc")
	if err := os.WriteFile(outSchema, []byte(bigOrders), 0o644); err != nil {
		t.Fatal(err)
	}
	dead := filepath.Join(dir, "dead.jsonl")

	const half = 300
	v1, v2 := avro.MustParse(ordersV1), avro.MustParse(ordersV2)
	var want []order
	batch := func(from int, s avro.Schema, id int) []kafkatest.Msg {
		var msgs []kafkatest.Msg
		for i := from; i < from+half; i++ {
			o := order{UserID: fmt.Sprintf("u%d", i%17), OrderID: int64(i), Amount: float64(i%250) + 0.25, Country: "DE", Status: []string{"NEW", "PAID"}[i%2]}
			if s == v2 && i%3 == 0 {
				c := fmt.Sprintf("C%d", i)
				o.Coupon = &c
			}
			body, err := avro.Marshal(s, o)
			if err != nil {
				t.Fatal(err)
			}
			msgs = append(msgs, kafkatest.Msg{Partition: int32(i % 6), Key: []byte(o.UserID), Value: wire(id, body)})
			if o.Amount >= 100 {
				want = append(want, o)
			}
		}
		return msgs
	}
	first := batch(0, v1, idV1)
	first = append(first, kafkatest.Msg{Partition: 0, Value: []byte("\x07not the wire format")})
	env.Produce(t, in, first)

	text := schemaPipeline(env.BrokerList(), in, out, group,
		fmt.Sprintf("max_messages = %d\ntimeout_ms = 90000\nvalue_format = \"avro\"\nschema_registry_url = %q\ninvalid = \"dead_letter\"", 2*half+1, url),
		fmt.Sprintf("key_field = \"user_id\"\nvalue_format = \"avro\"\nschema_registry = { url = %q }\nschema_file = %q", url, outSchema),
		fmt.Sprintf("[error_handling]\nstrategy = \"continue\"\n[error_handling.dead_letter_queue]\npath = %q\n", dead))
	p, err := config.Parse("schema.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	done := make(chan error, 1)
	var sum flow.Summary
	go func() {
		var err error
		sum, err = flow.Execute(ctx, p)
		done <- err
	}()
	// The producer moves to v2 while the pipeline runs: once the sink has
	// written from v1.
	for deadline := time.Now().Add(time.Minute); len(env.ReadAll(t, out)) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("nothing written from v1 within a minute")
		}
		time.Sleep(100 * time.Millisecond)
	}
	idV2 := register(t, cl, in+"-value", sr.TypeAvro, ordersV2)
	if idV2 == idV1 {
		t.Fatalf("v2 got v1's id %d", idV1)
	}
	env.Produce(t, in, batch(half, v2, idV2))
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	t.Logf("summary: %s", sum)

	latest, err := cl.SchemaByVersion(context.Background(), out+"-value", -1)
	if err != nil {
		t.Fatalf("the sink's subject %s-value: %v", out, err)
	}
	if latest.Schema.Schema == "" || latest.ID == 0 {
		t.Fatalf("subject %s-value: %+v", out, latest)
	}
	written, err := cl.SchemaByID(context.Background(), latest.ID)
	if err != nil {
		t.Fatal(err)
	}
	outS := avro.MustParse(written.Schema)
	var got []order
	var values [][]byte
	for _, m := range env.ReadAll(t, out) {
		values = append(values, m.Value)
		if len(m.Value) < 5 || m.Value[0] != 0 || int(binary.BigEndian.Uint32(m.Value[1:5])) != latest.ID {
			t.Fatalf("value %x is not in the wire format with schema id %d", m.Value, latest.ID)
		}
		var o order
		if err := avro.Unmarshal(outS, m.Value[5:], &o); err != nil {
			t.Fatalf("value %x does not decode with the registered schema: %v", m.Value, err)
		}
		if string(m.Key) != o.UserID {
			t.Fatalf("key %q, want user_id %q", m.Key, o.UserID)
		}
		o.Country = "DE" // not in the output schema
		got = append(got, o)
	}
	byID := func(a, b order) int { return int(a.OrderID - b.OrderID) }
	slices.SortFunc(got, byID)
	slices.SortFunc(want, byID)
	if len(got) != len(want) {
		t.Fatalf("wrote %d events, want %d", len(got), len(want))
	}
	coupons := 0
	for i := range want {
		g, w := got[i], want[i]
		if g.OrderID != w.OrderID || g.UserID != w.UserID || g.Amount != w.Amount || g.Status != w.Status || (g.Coupon == nil) != (w.Coupon == nil) || g.Coupon != nil && *g.Coupon != *w.Coupon {
			t.Fatalf("event %d: wrote %+v, want %+v", w.OrderID, g, w)
		}
		if g.Coupon != nil {
			coupons++
		}
	}
	if coupons == 0 {
		t.Fatal("no coupon of v2 came through")
	}
	// Apache Avro's Java library, as Confluent's deserializer, reads them
	// too, with the schema the registry has for the id.
	t.Run("java", func(t *testing.T) {
		recs := javaAvroCheck(t, written.Schema, latest.ID, values)
		if len(recs) != len(want) {
			t.Fatalf("java read %d records, want %d", len(recs), len(want))
		}
		coupons := 0
		for _, r := range recs {
			if r["coupon"] != nil {
				coupons++
			}
			if r["amount"].(float64) < 100 {
				t.Fatalf("java read %v: amount < 100", r)
			}
		}
		if coupons == 0 {
			t.Fatal("java read no coupon")
		}
	})
	deadLines := readLines(t, dead)
	if len(deadLines) != 1 || !strings.Contains(deadLines[0], "does not decode with its schema") || !strings.Contains(deadLines[0], "first byte is 0x07") {
		t.Fatalf("dead letters: %q", deadLines)
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

// TestIntegrationSchemaIncompatibleRefused: a sink whose schema_file (or
// key_schema_file) the registry finds incompatible with the subject's
// latest version does not start, and says the registry's reason; the
// subject keeps its one version. Needs a real registry: the fake's
// compatibility check always says yes.
func TestIntegrationSchemaIncompatibleRefused(t *testing.T) {
	url, real := schemaRegistry(t)
	if !real {
		t.Skip("needs a real schema registry (SCHEMA_REGISTRY_URL; scripts/apicurio.sh up): the in-process fake does not check compatibility")
	}
	env := kafkatest.Start(t)
	cl := srClient(t, url)
	for _, c := range []struct {
		name, subject, registered, file, sink string
		reason                                []string // the registry's reason names the field: Apicurio by its place in the schema, Confluent by its name
	}{
		{"value", "-value", bigOrders, "schema_file", "value_format = \"avro\"\nschema_file = %q", []string{"/fields/0/type", "order_id"}},
		{"key", "-key", orderKeySchema, "key_schema_file", "key_field = \"user_id\"\nkey_format = \"avro\"\nkey_schema_file = %q", []string{"/fields/0/type", "user_id"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			in, out, group := kafkatest.Name("orders"), kafkatest.Name("big-orders"), kafkatest.Name("g")
			env.CreateTopic(t, in, 1)
			env.CreateTopic(t, out, 1)
			register(t, cl, out+c.subject, sr.TypeAvro, c.registered)
			// The first field, a string or a long, becomes the other.
			bad := strings.Replace(c.registered, `"type":"long"}`, `"type":"string"}`, 1)
			if bad == c.registered {
				bad = strings.Replace(c.registered, `"type":"string"}`, `"type":"long"}`, 1)
			}
			path := filepath.Join(t.TempDir(), "bad.avsc")
			if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
				t.Fatal(err)
			}
			text := schemaPipeline(env.BrokerList(), in, out, group, "max_messages = 1\ntimeout_ms = 5000",
				fmt.Sprintf("schema_registry = { url = %q }\n"+c.sink, url, path), "")
			p, err := config.Parse("schema.toml", []byte(text))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			err = flow.Run(ctx, p)
			t.Logf("error: %v", err)
			for _, want := range []string{`kafka sink "produce"`, c.file + " " + path, "schema registry " + url + " refuses the schema for subject \"" + out + c.subject + "\"", "ncompatible"} {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("error %v, want it to say %q", err, want)
				}
			}
			if !strings.Contains(err.Error(), c.reason[0]) && !strings.Contains(err.Error(), c.reason[1]) {
				t.Fatalf("error %v does not carry the registry's reason", err)
			}
			versions, _ := cl.SubjectVersions(context.Background(), out+c.subject)
			if len(versions) != 1 {
				t.Fatalf("subject has versions %v, want only the first", versions)
			}
		})
	}
}

// TestIntegrationSchemaRegistryDown: a registry that does not answer at
// start is an error naming its URL.
func TestIntegrationSchemaRegistryDown(t *testing.T) {
	env := kafkatest.Start(t)
	in, out, group := kafkatest.Name("orders"), kafkatest.Name("out"), kafkatest.Name("g")
	env.CreateTopic(t, in, 1)
	env.CreateTopic(t, out, 1)
	url := "http://127.0.0.1:1/apis/ccompat/v7"
	text := schemaPipeline(env.BrokerList(), in, out, group, fmt.Sprintf("max_messages = 1\ntimeout_ms = 5000\nvalue_format = \"avro\"\nschema_registry_url = %q", url), "", "")
	p, err := config.Parse("schema.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	err = flow.Run(context.Background(), p)
	if err == nil || !strings.Contains(err.Error(), `kafka source "consume": schema registry `+url+" does not answer") {
		t.Fatalf("error %v, want the registry's URL", err)
	}
}

// javaAvroCheck decodes values (the wire format, schema id id) with Apache
// Avro's Java library, the one Confluent's deserializer uses, by
// testdata/java/AvroWireCheck.java, and returns the records it printed as
// Avro's JSON. Its jars are Apicurio's (scripts/apicurio.sh fetch, or
// AVRO_JAVA_CLASSPATH); without them, or without java, it skips, saying so.
func javaAvroCheck(t *testing.T, schemaText string, id int, values [][]byte) []map[string]any {
	t.Helper()
	cp := os.Getenv("AVRO_JAVA_CLASSPATH")
	if cp == "" {
		jars, _ := filepath.Glob("../.cache/apicurio/app-*/lib/main/*.jar")
		var keep []string
		for _, j := range jars {
			if b := filepath.Base(j); strings.Contains(b, "org.apache.avro.avro-") || strings.Contains(b, "jackson-core-2") ||
				strings.Contains(b, "jackson-databind-2") || strings.Contains(b, "jackson-annotations-2") ||
				strings.Contains(b, "slf4j-api") || strings.Contains(b, "commons-compress") {
				keep = append(keep, j)
			}
		}
		cp = strings.Join(keep, string(os.PathListSeparator))
	}
	java, err := exec.LookPath("java")
	if err != nil || !strings.Contains(cp, "avro") {
		t.Skip("no java, or no Apache Avro jar (run scripts/apicurio.sh fetch, or set AVRO_JAVA_CLASSPATH): the Java-side check did not run")
	}
	dir := t.TempDir()
	schemaPath, valuesPath := filepath.Join(dir, "schema.avsc"), filepath.Join(dir, "values.hex")
	var lines []string
	for _, v := range values {
		lines = append(lines, hex.EncodeToString(v))
	}
	if err := os.WriteFile(schemaPath, []byte(schemaText), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(valuesPath, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(java, "-cp", cp, "testdata/java/AvroWireCheck.java", schemaPath, strconv.Itoa(id), valuesPath)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("Apache Avro (Java) does not read the values: %v\n%s", err, stderr.String())
	}
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("java printed %q: %v", line, err)
		}
		recs = append(recs, m)
	}
	return recs
}
