package cli

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/conveyor-etl/conveyor/internal/kafkatest"
)

// TestProduceConsumeAvro: produce --value-format avro registers the schema
// file and writes each record in the wire format (read back here by
// hamba/avro, independently); consume --value-format avro prints the
// records again, with their schema id; a record that does not fit the
// schema stops produce naming the field.
func TestProduceConsumeAvro(t *testing.T) {
	env := kafkatest.Start(t)
	reg := srfake.New()
	defer reg.Close()
	topic := kafkatest.Name("produce-avro")
	env.CreateTopic(t, topic, 1)
	const avsc = `{"type":"record","name":"R","fields":[{"name":"id","type":"string"},{"name":"n","type":"long"},{"name":"tag","type":["null","string"],"default":null}]}`
	dir := t.TempDir()
	schemaFile, in := filepath.Join(dir, "r.avsc"), filepath.Join(dir, "in.jsonl")
	recs := []string{`{"id":"u1","n":1,"tag":null}`, `{"id":"u2","n":2,"tag":"x"}`}
	if err := os.WriteFile(schemaFile, []byte(avsc), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, []byte(strings.Join(recs, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	avroFlags := []string{"--brokers", env.BrokerList(), "--value-format", "avro", "--schema-registry", reg.URL()}
	code, _, stderr := cli(t, append([]string{"produce", topic, in, "--schema-file", schemaFile}, avroFlags...)...)
	if code != 0 {
		t.Fatalf("produce: exit %d: %s", code, stderr)
	}
	s := avro.MustParse(avsc)
	for i, m := range env.ReadAll(t, topic) {
		var r struct {
			ID string `avro:"id"`
			N  int64  `avro:"n"`
		}
		if len(m.Value) < 5 || m.Value[0] != 0 || binary.BigEndian.Uint32(m.Value[1:5]) == 0 {
			t.Fatalf("value %x is not in the wire format", m.Value)
		}
		if err := avro.Unmarshal(s, m.Value[5:], &r); err != nil || r.N != int64(i+1) {
			t.Fatalf("value %x: %+v, %v", m.Value, r, err)
		}
	}
	code, stdout, stderr := cli(t, append([]string{"consume", topic, "--from-beginning", "-n", "2"}, avroFlags...)...)
	if code != 0 {
		t.Fatalf("consume: exit %d: %s", code, stderr)
	}
	for i, c := range consumedLines(t, stdout) {
		want := strings.TrimSuffix(recs[i], "}") + `,"_kafka_schema_id":1}`
		if string(c.Value) != want {
			t.Errorf("consumed %s, want %s", c.Value, want)
		}
	}
	if err := os.WriteFile(in, []byte(`{"id":"u3","n":"three"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = cli(t, append([]string{"produce", topic, in, "--schema-file", schemaFile}, avroFlags...)...)
	if code != 1 || !strings.Contains(stderr, `record 1: field n: want an Avro long (a whole number), got "three"`) {
		t.Fatalf("produce of a misfit: exit %d: %s", code, stderr)
	}
	code, _, stderr = cli(t, "consume", topic, "--value-format", "avro")
	if code != 2 || !strings.Contains(stderr, "--value-format avro needs --schema-registry") {
		t.Fatalf("consume without a registry: exit %d: %s", code, stderr)
	}
}
