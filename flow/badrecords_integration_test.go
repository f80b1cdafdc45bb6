package flow_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/conveyor-etl/conveyor/internal/kafkatest"
)

// Bad records between good ones, through Kafka → filter → Kafka with
// strategy "continue" and a dead-letter topic. Each gets its outcome, and
// every good record around it comes out, in order:
//
//	not JSON                     wrapped as _kafka_payload; has no amount: filtered
//	larger than max message size the sink cannot send it: dead-lettered (truncated), the run goes on
//	nested 5,000 deep            passes, written whole
//	nested 10,001 deep           deeper than encoding/json allows: wrapped, filtered
//	invalid UTF-8                passes; the bad byte becomes U+FFFD
//	no amount column             filtered
//	amount as a numeric string   compares as a number: passes
func TestIntegrationBadRecordsAndDeadLetterTopic(t *testing.T) {
	env := kafkatest.Start(t)
	in, out, dlq, group := kafkatest.Name("in"), kafkatest.Name("out"), kafkatest.Name("dlq"), kafkatest.Name("g")
	env.CreateTopic(t, in, 1, "max.message.bytes", "4194304") // the input may hold what the output may not
	env.CreateTopic(t, out, 1)
	env.CreateTopic(t, dlq, 1)
	huge := `{"event_id":"huge","user_id":1,"amount":300,"blob":"` + strings.Repeat("x", 1500000) + `"}`
	deep := `{"event_id":"deep","user_id":1,"amount":150,"n":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`
	tooDeep := `{"event_id":"too-deep","user_id":1,"amount":150,"n":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`
	values := []string{
		`{"event_id":"good-0","user_id":1,"amount":150}`,
		`hello, not json`,
		`{"event_id":"good-1","user_id":1,"amount":50}`,
		huge,
		`{"event_id":"good-2","user_id":2,"amount":200}`,
		deep,
		tooDeep,
		"{\"event_id\":\"utf8\",\"user_id\":3,\"amount\":200,\"name\":\"caf\xe9\"}",
		`{"event_id":"nocol","user_id":1}`,
		`{"event_id":"numeric-string","user_id":1,"amount":"120"}`,
		`{"event_id":"good-3","user_id":1,"amount":100}`,
	}
	msgs := make([]kafkatest.Msg, len(values))
	for i, v := range values {
		msgs[i] = kafkatest.Msg{Partition: 0, Value: []byte(v)}
	}
	env.Produce(t, in, msgs)
	text := etl(env, in, out, group, fmt.Sprintf("max_messages = %d", len(values))) + fmt.Sprintf(`
[error_handling]
strategy = "continue"
[error_handling.dead_letter_queue]
topic = %q
`, dlq)
	sum := runFile(t, writePipeline(t, t.TempDir(), text))

	var got []string
	for _, m := range env.ReadAll(t, out) {
		var d struct {
			EventID string `json:"event_id"`
			Name    string `json:"name"`
		}
		if err := json.Unmarshal(m.Value, &d); err != nil {
			t.Fatalf("output %.200s is not JSON: %v", m.Value, err)
		}
		got = append(got, d.EventID)
		if d.EventID == "utf8" && d.Name != "caf\ufffd" {
			t.Errorf("invalid UTF-8 record came out as %s; want the bad byte replaced by U+FFFD", m.Value)
		}
		if d.EventID == "deep" && len(m.Value) < 10000 {
			t.Errorf("the deeply nested record lost its nesting: %d bytes", len(m.Value))
		}
	}
	want := []string{"good-0", "good-2", "deep", "utf8", "numeric-string", "good-3"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("output %v, want %v", got, want)
	}

	dead := env.ReadAll(t, dlq)
	if len(dead) != 1 {
		t.Fatalf("dead-letter topic holds %d entries, want 1 (the huge record)", len(dead))
	}
	var e struct {
		Error, Stage, Source string
		Partition            int32
		Offset               int64
		Time                 string
		RecordText           string `json:"record_text"`
		Truncated            bool
		RecordBytes          int `json:"record_bytes"`
	}
	if err := json.Unmarshal(dead[0].Value, &e); err != nil {
		t.Fatalf("dead-letter entry is not JSON: %v", err)
	}
	t.Logf("dead-letter entry: error %q stage %q source %s/%d@%d time %s truncated %v record_bytes %d (%d bytes kept)",
		e.Error, e.Stage, e.Source, e.Partition, e.Offset, e.Time, e.Truncated, e.RecordBytes, len(e.RecordText))
	if !strings.Contains(e.Error, "larger than max_message_bytes = 1000000") || e.Stage != "produce" || e.Source != in || e.Partition != 0 || e.Offset != 3 || e.Time == "" {
		t.Errorf("dead-letter entry does not say what failed where: %+v", e)
	}
	if !e.Truncated || e.RecordBytes < len(huge) || !strings.HasPrefix(e.RecordText, `{"event_id":"huge"`) {
		t.Errorf("dead-letter entry should hold the start of the huge record, truncated: truncated=%v bytes=%d", e.Truncated, e.RecordBytes)
	}

	if sum.In != 11 || sum.Out != 6 || sum.Filtered != 4 || sum.Failed != 1 || sum.DeadLettered != 1 {
		t.Errorf("summary %s; want in=11 out=6 filtered=4 failed=1 dead_lettered=1", sum)
	}
	if c := env.Committed(t, group, in); c[0] != 11 {
		t.Errorf("committed %v, want 11: the dead-lettered record must not hold the partition back", c)
	}
}
