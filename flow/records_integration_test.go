package flow_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/conveyor-etl/conveyor/internal/kafkatest"
)

// Kafka records that JSON cannot hold as they are keep what they carry,
// through a real pipeline (Kafka → json.write and Kafka → Kafka), in both
// delivery modes:
//
//	tombstone (null value)        "_kafka_payload": null; with tombstones = true the sink sends a tombstone
//	empty value                   "_kafka_payload": ""
//	binary key                    "_kafka_key_base64" (standard base64), no "_kafka_key"; the sink's key again
//	payload with its own metadata kept as "_payload__kafka_key" etc., the source's under the plain names
func TestIntegrationRecordFidelity(t *testing.T) {
	for _, delivery := range []string{"batch", "per-message"} {
		t.Run(delivery, func(t *testing.T) { testRecordFidelity(t, delivery) })
	}
}

func testRecordFidelity(t *testing.T, delivery string) {
	env := kafkatest.Start(t)
	in, out, copies, group := kafkatest.Name("in"), kafkatest.Name("out"), kafkatest.Name("copies"), kafkatest.Name("g")
	env.CreateTopic(t, in, 1)
	env.CreateTopic(t, out, 1)
	env.CreateTopic(t, copies, 1)
	binKey := []byte{0xff, 0x00, 0xfe, 'k'}
	env.Produce(t, in, []kafkatest.Msg{
		{Key: []byte("k-del"), Value: nil},
		{Key: []byte("k-empty"), Value: []byte{}},
		{Key: binKey, Value: []byte(`{"a":1}`)},
		{Key: []byte("k-own"), Value: []byte(`{"_kafka_key":"mine","a":2,"_kafka_offset":"x","_payload__kafka_key":"older"}`)},
		{Value: []byte(`{"a":3}`)},
	})
	dir := t.TempDir()
	// The records as the source made them: in a JSON Lines file, or, as
	// per-message delivery refuses sinks that are durable only at the end,
	// in a topic written without tombstones.
	copyStage := `
[[stages]]
id = "file"
function = "json.write"
inputs = ["consume"]
[stages.config]
path = "out.jsonl"
format = "jsonl"
`
	if delivery == "per-message" {
		copyStage = fmt.Sprintf(`
[[stages]]
id = "copies"
function = "kafka"
inputs = ["consume"]
[stages.config]
brokers = %q
topic = %q
delivery = %q
`, env.BrokerList(), copies, delivery)
	}
	text := fmt.Sprintf(`
[[stages]]
id = "consume"
function = "kafka"
[stages.config]
brokers = %q
topic = %q
group_id = %q
max_messages = 5
delivery = %q
%s
[[stages]]
id = "produce"
function = "kafka"
inputs = ["consume"]
[stages.config]
brokers = %q
topic = %q
key_field = "_kafka_key"
tombstones = true
delivery = %q
`, env.BrokerList(), in, group, delivery, copyStage, env.BrokerList(), out, delivery)
	sum := runFile(t, writePipeline(t, dir, text))
	if sum.In != 5 {
		t.Errorf("summary %s; want in=5", sum)
	}

	var recs []map[string]json.RawMessage
	if delivery == "per-message" {
		for _, m := range env.ReadAll(t, copies) {
			var r map[string]json.RawMessage
			if err := json.Unmarshal(m.Value, &r); err != nil {
				t.Fatalf("copy %q is not JSON: %v", m.Value, err)
			}
			recs = append(recs, r)
		}
	} else {
		recs = readJSONLines(t, filepath.Join(dir, "out.jsonl"))
	}
	if len(recs) != 5 {
		t.Fatalf("the copies hold %d records, want 5", len(recs))
	}
	wantFile := []map[string]string{
		{"_kafka_payload": `null`, "_kafka_key": `"k-del"`, "_kafka_offset": `0`},
		{"_kafka_payload": `""`, "_kafka_key": `"k-empty"`, "_kafka_offset": `1`},
		{"a": `1`, "_kafka_key_base64": fmt.Sprintf("%q", base64.StdEncoding.EncodeToString(binKey)), "_kafka_key": "", "_kafka_offset": `2`},
		{"a": `2`, "_payload__kafka_key": `"mine"`, "_payload__kafka_offset": `"x"`, "_payload__payload__kafka_key": `"older"`,
			"_kafka_key": `"k-own"`, "_kafka_offset": `3`},
		{"a": `3`, "_kafka_key": `null`, "_kafka_payload": "", "_kafka_offset": `4`},
	}
	for i, want := range wantFile {
		for name, v := range want {
			got, ok := recs[i][name]
			switch {
			case v == "" && ok:
				t.Errorf("record %d has %s = %s, want it absent: %v", i, name, got, recs[i])
			case v != "" && string(got) != v:
				t.Errorf("record %d: %s = %s, want %s", i, name, got, v)
			}
		}
	}

	// The sink sends the tombstone as a tombstone, under its key; the empty
	// value stays a record holding "".
	msgs := env.ReadAll(t, out)
	if len(msgs) != 5 {
		t.Fatalf("output topic holds %d messages, want 5", len(msgs))
	}
	if m := msgs[0]; m.Value != nil || string(m.Key) != "k-del" {
		t.Errorf("tombstone came out as key %q value %q (nil: %v); want a tombstone keyed k-del", m.Key, m.Value, m.Value == nil)
	}
	if m := msgs[1]; m.Value == nil || !bytes.Contains(m.Value, []byte(`"_kafka_payload":""`)) || string(m.Key) != "k-empty" {
		t.Errorf("empty value came out as key %q value %q; want a record with \"_kafka_payload\":\"\"", m.Key, m.Value)
	}
	if m := msgs[2]; !bytes.Equal(m.Key, binKey) || !bytes.Contains(m.Value, []byte(`"_kafka_key_base64"`)) {
		t.Errorf("binary-key record came out as key %q value %q; want key %q (from _kafka_key_base64)", m.Key, m.Value, binKey)
	}
}

// readJSONLines reads a JSON Lines file into one map per record.
func readJSONLines(t *testing.T, path string) []map[string]json.RawMessage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []map[string]json.RawMessage
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: line %q is not a JSON object: %v", path, sc.Text(), err)
		}
		recs = append(recs, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return recs
}
