package flow_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/kafkatest"
)

// invalidValues are good records around two values that are not valid
// JSON (offsets 1 and 3) and a valid JSON array (offset 5), which is not
// invalid: it is wrapped as the spec says, and the filter drops it.
var invalidValues = []string{
	`{"event_id":"good-0","user_id":1,"amount":150}`,
	`not json at all`,
	`{"event_id":"good-1","user_id":2,"amount":200}`,
	`{"amount": 700`,
	`{"event_id":"good-2","user_id":3,"amount":300}`,
	`[1,2]`,
	`{"event_id":"good-3","user_id":4,"amount":400}`,
}

// runInvalid runs kafka → filter → kafka over invalidValues with the
// source's extra keys and the pipeline's extra tables; it returns the run's
// summary and error, the event ids written, the warnings and the topic and
// group read.
func runInvalid(t *testing.T, env kafkatest.Env, source, tables string) (flow.Summary, error, []string, *observer.ObservedLogs, string, string) {
	t.Helper()
	in, out, group := kafkatest.Name("in"), kafkatest.Name("out"), kafkatest.Name("g")
	env.CreateTopic(t, in, 1)
	env.CreateTopic(t, out, 1)
	msgs := make([]kafkatest.Msg, len(invalidValues))
	for i, v := range invalidValues {
		msgs[i] = kafkatest.Msg{Partition: 0, Value: []byte(v)}
	}
	env.Produce(t, in, msgs)
	text := etl(env, in, out, group, fmt.Sprintf("max_messages = %d\n%s", len(invalidValues), source)) + tables
	p, err := config.Parse("invalid.toml", []byte(text))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	core, logs := observer.New(zap.WarnLevel)
	sum, runErr := flow.Execute(ctx, p, flow.WithLogger(zap.New(core)))
	t.Logf("summary: %s; error: %v", sum, runErr)
	var ids []string
	for _, m := range env.ReadAll(t, out) {
		ids = append(ids, decodeID(t, m.Value))
	}
	return sum, runErr, ids, logs, in, group
}

func decodeID(t *testing.T, v []byte) string {
	t.Helper()
	var d struct {
		EventID string `json:"event_id"`
	}
	if err := json.Unmarshal(v, &d); err != nil {
		t.Fatalf("output %s is not JSON: %v", v, err)
	}
	return d.EventID
}

func stageInvalid(sum flow.Summary, id string) int64 {
	for _, s := range sum.Stages {
		if s.ID == id {
			return s.Invalid
		}
	}
	return -1
}

const allGood = "good-0,good-1,good-2,good-3"

// invalid = "wrap" (the default) keeps the spec's behaviour: the bad values
// are wrapped and filtered; they are counted and a warning says so.
func TestIntegrationInvalidWrap(t *testing.T) {
	env := kafkatest.Start(t)
	sum, err, ids, logs, in, group := runInvalid(t, env, "", "")
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if got := strings.Join(ids, ","); got != allGood {
		t.Errorf("output %s, want %s", got, allGood)
	}
	if sum.Filtered != 3 || sum.Failed != 0 || stageInvalid(sum, "consume") != 2 {
		t.Errorf("summary %s: want filtered=3 failed=0 and the source's invalid=2 (the array is not invalid)", sum)
	}
	if !strings.Contains(sum.String(), "consume in=7 out=7 invalid=2") {
		t.Errorf("summary %q does not show invalid=2 on the source", sum)
	}
	w := logs.FilterMessageSnippet(`2 records of stage "consume" were not JSON objects and were wrapped as _kafka_payload; set invalid = `)
	if w.Len() != 1 {
		t.Errorf("want one warning about the 2 wrapped records; warnings: %v", logs.All())
	}
	if c := env.Committed(t, group, in); c[0] != 7 {
		t.Errorf("committed %v, want 7", c)
	}
}

// invalid = "dead_letter": the bad values go to the dead-letter file with
// their raw text, every good record comes out, and the offsets are
// committed to the end. The same with delivery = "per-message".
func TestIntegrationInvalidDeadLetter(t *testing.T) {
	for _, delivery := range []string{"batch", "per-message"} {
		t.Run(delivery, func(t *testing.T) {
			env := kafkatest.Start(t)
			dead := filepath.Join(t.TempDir(), "dead.jsonl")
			sum, err, ids, logs, in, group := runInvalid(t, env, fmt.Sprintf("invalid = \"dead_letter\"\ndelivery = %q", delivery),
				fmt.Sprintf("\n[error_handling]\nstrategy = \"stop\"\n[error_handling.dead_letter_queue]\npath = %q\n", dead))
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if got := strings.Join(ids, ","); got != allGood {
				t.Errorf("output %s, want %s", got, allGood)
			}
			type entry struct {
				Error, Stage, Source string
				Offset               int64
				RecordText           string `json:"record_text"`
			}
			var got []entry
			f, ferr := os.Open(dead)
			if ferr != nil {
				t.Fatalf("dead-letter file: %v", ferr)
			}
			defer f.Close()
			for sc := bufio.NewScanner(f); sc.Scan(); {
				var e entry
				if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
					t.Fatalf("dead-letter entry %s: %v", sc.Bytes(), err)
				}
				got = append(got, e)
			}
			want := []entry{
				{Error: "value is not valid JSON: line 1, column 1: ", Stage: "consume", Source: in, Offset: 1, RecordText: "not json at all"},
				{Error: "value is not valid JSON: line 1, column 15: ", Stage: "consume", Source: in, Offset: 3, RecordText: `{"amount": 700`},
			}
			if len(got) != len(want) {
				t.Fatalf("dead-letter file holds %+v, want %d entries", got, len(want))
			}
			for i, w := range want {
				g := got[i]
				if !strings.HasPrefix(g.Error, w.Error) || g.Stage != w.Stage || g.Source != w.Source || g.Offset != w.Offset || g.RecordText != w.RecordText {
					t.Errorf("dead-letter entry %d = %+v, want %+v (error starting so)", i, g, w)
				}
			}
			if sum.Failed != 2 || sum.DeadLettered != 2 || sum.Filtered != 1 || stageInvalid(sum, "consume") != 2 {
				t.Errorf("summary %s: want failed=2 dead_lettered=2 filtered=1 and the source's invalid=2", sum)
			}
			if logs.FilterMessageSnippet("were wrapped").Len() != 0 {
				t.Errorf("a wrap warning when nothing was wrapped: %v", logs.All())
			}
			if c := env.Committed(t, group, in); c[0] != 7 {
				t.Errorf("committed %v, want 7: the dead-lettered records must not hold the partition back", c)
			}
		})
	}
}

// invalid = "fail" stops the run at the first bad value, naming it; nothing
// from it on is committed.
func TestIntegrationInvalidFail(t *testing.T) {
	for _, delivery := range []string{"batch", "per-message"} {
		t.Run(delivery, func(t *testing.T) {
			env := kafkatest.Start(t)
			sum, err, _, _, in, group := runInvalid(t, env, fmt.Sprintf("invalid = \"fail\"\ndelivery = %q", delivery), "")
			if err == nil {
				t.Fatalf("the run did not fail: %s", sum)
			}
			for _, s := range []string{`stage "consume"`, in + "/0@1", "value is not valid JSON: line 1, column 1", `invalid = "fail"`} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			if c := env.Committed(t, group, in); c[0] > 1 {
				t.Errorf("committed %v: past the bad record at offset 1", c)
			}
		})
	}
}
