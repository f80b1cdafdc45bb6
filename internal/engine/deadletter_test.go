package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/conveyor-etl/conveyor/connectors/kafka"
	"github.com/conveyor-etl/conveyor/plugin"
)

// A dead-letter entry keeps the record as JSON when it is JSON, as text
// when not, and only a valid-UTF-8 prefix when it exceeds the limit.
func TestDeadLetterEntry(t *testing.T) {
	b := &plugin.Batch{Origin: "raw-events", Partition: 2}
	huge := `{"blob":"` + strings.Repeat("é", 100) + `"}` // 2-byte runes: a cut can fall mid-rune
	cases := []struct {
		name, value string
		limit       int
		record      string // want "record" (JSON) ...
		text        string // ... or "record_text"
		truncated   bool
	}{
		{"json", `{"a":1}`, 0, `{"a":1}`, "", false},
		{"not json", `hello`, 0, "", "hello", false},
		{"under the limit", `{"a":1}`, 64, `{"a":1}`, "", false},
		{"over the limit", huge, 20, "", huge[:19], true}, // byte 20 is mid-rune: dropped
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := deadLetter("produce", *b, failure{rec: plugin.Record{Value: []byte(tc.value), Offset: 41}, err: errors.New("too big")}, tc.limit)
			var e struct {
				Error, Stage, Source string
				Partition            int32
				Offset               int64
				Time                 string
				Record               json.RawMessage
				RecordText           string `json:"record_text"`
				Truncated            bool
				RecordBytes          int `json:"record_bytes"`
			}
			if err := json.Unmarshal(out, &e); err != nil {
				t.Fatalf("entry %s is not JSON: %v", out, err)
			}
			if e.Error != "too big" || e.Stage != "produce" || e.Source != "raw-events" || e.Partition != 2 || e.Offset != 41 || e.Time == "" {
				t.Errorf("entry %s lacks where the record came from", out)
			}
			if string(e.Record) != tc.record || e.RecordText != tc.text || e.Truncated != tc.truncated || e.RecordBytes != len(tc.value) {
				t.Errorf("entry %s; want record %q text %q truncated %v bytes %d", out, tc.record, tc.text, tc.truncated, len(tc.value))
			}
			if !utf8.ValidString(e.RecordText) {
				t.Errorf("record_text is not valid UTF-8")
			}
		})
	}
}

// dlqPipeline is a kafka source (SSL) feeding a kafka sink (SASL_SSL on
// other brokers) with a dead-letter topic; extra goes in its table.
func dlqPipeline(extra string) string {
	return `
[[stages]]
id = "in"
function = "kafka"
[stages.config]
brokers = "src:9092"
topic = "in"
group_id = "g"
security_protocol = "SSL"
tls_ca_file = "/src-ca.pem"
[[stages]]
id = "out"
function = "kafka"
inputs = ["in"]
[stages.config]
brokers = "sink:9093"
topic = "out"
key_field = "user_id"
max_message_bytes = 80
dial_timeout_ms = 3000
security_protocol = "SASL_SSL"
sasl_mechanism = "SCRAM-SHA-512"
sasl_username = "writer"
sasl_password = "pw"
tls_ca_file = "/sink-ca.pem"
[error_handling]
strategy = "continue"
[error_handling.dead_letter_queue]
topic = "dlq"
` + extra
}

// lineOf is the line of the last line of text that starts with prefix.
func lineOf(text, prefix string) int {
	n := 0
	for i, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			n = i + 1
		}
	}
	return n
}

// A dead-letter topic reaches its cluster as the pipeline's first kafka
// sink does (else its first kafka source): same brokers and security keys,
// each overridden by the table's own; with brokers of its own it inherits
// nothing. Sink-only keys (max_message_bytes, key_field) are never taken.
func TestDeadLetterTopicSettings(t *testing.T) {
	reg := (&world{}).registry()
	if err := reg.Register(kafka.Spec()); err != nil {
		t.Fatal(err)
	}
	full := dlqPipeline("")
	sourceOnly := full[:strings.Index(full, "[[stages]]\nid = \"out\"")] + // the kafka source, a test sink
		"[[stages]]\nid = \"out\"\nfunction = \"flaky\"\ninputs = [\"in\"]\n" + full[strings.Index(full, "[error_handling]"):]
	for _, tc := range []struct {
		name, text string
		brokers    string
		protocol   string
		user, pw   string
		ca         string
		dial       time.Duration
	}{
		{"inherits from the kafka sink", dlqPipeline(""), "sink:9093", "SASL_SSL", "writer", "pw", "/sink-ca.pem", 3 * time.Second},
		{"own keys override", dlqPipeline("sasl_username = \"dlq\"\nsasl_password = \"pw2\"\n"), "sink:9093", "SASL_SSL", "dlq", "pw2", "/sink-ca.pem", 3 * time.Second},
		{"own brokers: nothing inherited", dlqPipeline("brokers = \"other:9092\"\n"), "other:9092", "PLAINTEXT", "", "", "", 10 * time.Second},
		{"no kafka sink: from the kafka source", sourceOnly, "src:9092", "SSL", "", "", "/src-ca.pem", 10 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := Compile(pipeline(t, tc.text), reg)
			if err != nil {
				t.Fatal(err)
			}
			c := plan.deadLetter.cfg.(*kafka.SinkConfig)
			got := fmt.Sprintf("%v %s %s %s %s %s topic=%s max=%d key=%q", c.Brokers, c.Protocol, c.Username, string(c.Password), c.CAFile, c.DialTimeout, c.Topic, c.MaxMessageBytes, c.KeyField)
			want := fmt.Sprintf("[%s] %s %s %s %s %s topic=dlq max=1000000 key=\"\"", tc.brokers, tc.protocol, tc.user, tc.pw, tc.ca, tc.dial)
			if got != want {
				t.Errorf("dead-letter sink config\n got %s\nwant %s", got, want)
			}
		})
	}
}

// A dead-letter topic writes JSON entries whatever the stage it takes its
// cluster from reads or writes: it does not inherit value_format,
// key_format or the schema registry keys (which a JSON sink refuses).
func TestDeadLetterTopicNotSchemaKeys(t *testing.T) {
	reg := (&world{}).registry()
	if err := reg.Register(kafka.Spec()); err != nil {
		t.Fatal(err)
	}
	for _, registry := range []string{`schema_registry = { url = "http://r" }`, `schema_registry_url = "http://r"`} {
		text := strings.Replace(dlqPipeline(""), "topic = \"out\"\n", "topic = \"out\"\nvalue_format = \"avro\"\nschema = \"latest\"\nkey_format = \"avro\"\nkey_schema = \"latest\"\n"+registry+"\n", 1)
		plan, err := Compile(pipeline(t, text), reg)
		if err != nil {
			t.Fatalf("%s: %v", registry, err)
		}
		c := plan.deadLetter.cfg.(*kafka.SinkConfig)
		if c.ValueFormat != "json" || c.KeyFormat != "" || c.Registry.URL != "" || c.RegistryURL != "" || c.Brokers[0] != "sink:9093" {
			t.Errorf("%s: dead-letter sink value_format %q key_format %q registry %q %q brokers %v; want JSON, no registry, the sink's brokers",
				registry, c.ValueFormat, c.KeyFormat, c.Registry.URL, c.RegistryURL, c.Brokers)
		}
	}
}

// Mistakes in the dead-letter table are reported by Compile (so by
// `conveyor validate`) at their line, under their key.
func TestDeadLetterTopicErrors(t *testing.T) {
	reg := (&world{}).registry()
	if err := reg.Register(kafka.Spec()); err != nil {
		t.Fatal(err)
	}
	noKafka := fmt.Sprintf(stages, "", "", 0) + "[error_handling]\n[error_handling.dead_letter_queue]\ntopic = \"dlq\"\n"
	for _, tc := range []struct{ name, text, key, want string }{
		{"misspelt key", dlqPipeline("sasl_pasword = \"x\"\n"), "sasl_pasword",
			`error_handling.dead_letter_queue.sasl_pasword: unknown key (did you mean "sasl_password"?)`},
		{"override that conflicts with what it inherits", dlqPipeline("security_protocol = \"PLAINTEXT\"\n"), "security_protocol",
			`error_handling.dead_letter_queue.security_protocol: SASL keys are set but security_protocol is PLAINTEXT`},
		{"bad value", dlqPipeline("dial_timeout_ms = \"soon\"\n"), "dial_timeout_ms",
			`error_handling.dead_letter_queue.dial_timeout_ms: `},
		{"no cluster to inherit", noKafka, "[error_handling.dead_letter_queue]",
			`error_handling.dead_letter_queue.brokers: missing: the pipeline has no kafka stage to take the cluster from`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(pipeline(t, tc.text), reg)
			want := fmt.Sprintf("test.toml:%d:1: %s", lineOf(tc.text, tc.key), tc.want)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("error:\n%v\nwant a line starting:\n%s", err, want)
			}
		})
	}
}
