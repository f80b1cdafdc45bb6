package engine

import (
	"fmt"
	"strings"
	"testing"

	"github.com/conveyor-etl/conveyor/operators"
	"github.com/conveyor-etl/conveyor/plugin"
)

// late = "dead_letter" without a dead-letter queue is refused by Compile
// (so by conveyor validate), at the stage's late key; with one it is not.
func TestLateDeadLetterNeedsQueue(t *testing.T) {
	reg := (&world{}).registry()
	if err := reg.Register(operators.WindowAggregateSpec()); err != nil {
		t.Fatal(err)
	}
	text := `[pipeline]
name = "p"
[[stages]]
id = "src"
function = "count"
[[stages]]
id = "w"
function = "window.aggregate"
inputs = ["src"]
[stages.config]
size_ms = 60000
late = "dead_letter"
aggregates = { n = "count()" }
[[stages]]
id = "out"
function = "flaky"
inputs = ["w"]
`
	_, err := Compile(pipeline(t, text), reg)
	at := fmt.Sprintf("test.toml:%d:", lineOf(text, `late = "dead_letter"`))
	want := `stages[1] "w" config.late: late = "dead_letter" sends late records to the dead-letter queue, and the pipeline has none`
	if err == nil || !strings.Contains(err.Error(), at) || !strings.Contains(err.Error(), want) {
		t.Errorf("error:\n%v\nwant at %s:\n%s", err, at, want)
	}
	withQueue := text + "[error_handling]\nstrategy = \"continue\"\ndead_letter_queue = \"dead.jsonl\"\n"
	if _, err := Compile(pipeline(t, withQueue), reg); err != nil {
		t.Errorf("with a dead-letter queue: %v", err)
	}
}

// A stateful stage below another one whose time field differs (dedupe on
// the produce time above a window on "ts", issue 17's trial) is refused
// by Compile, at the downstream stage's time_field key, naming the fix;
// also through a stateless stage in between, and at the stage when its
// time_field is the default. With equal time fields it compiles.
func TestStatefulTimeFieldsMustMatch(t *testing.T) {
	reg := (&world{}).registry()
	for _, s := range []*plugin.Spec{operators.WindowAggregateSpec(), operators.DedupeSpec(), operators.FilterExprSpec()} {
		if err := reg.Register(s); err != nil {
			t.Fatal(err)
		}
	}
	const head = `[pipeline]
name = "p"
[[stages]]
id = "src"
function = "count"
[[stages]]
id = "dedupe"
function = "dedupe.apply"
inputs = ["src"]
[stages.config]
key = "order_id"
`
	const filter = `[[stages]]
id = "keep"
function = "filter.expr"
inputs = ["dedupe"]
[stages.config]
condition = "amount > 0"
`
	window := func(input, tf string) string {
		return `[[stages]]
id = "w"
function = "window.aggregate"
inputs = ["` + input + `"]
[stages.config]
group_by = ["country"]
` + tf + `size_ms = 60000
aggregates = { n = "count()" }
[[stages]]
id = "out"
function = "flaky"
inputs = ["w"]
`
	}
	const want = `stages[%d] "w" config.time_field: time_field = %q, but stage "dedupe" upstream keeps its watermark in time_field = %q, which this stage would take as progress in its own time (its records late, or its windows closed early): set time_field = %q on stage "dedupe" too`
	for _, c := range []struct {
		name, text, at, msg string
		up                  int // lines above at: the [[stages]] of id = "w"
	}{
		{"direct", head + window("dedupe", "time_field = \"ts\"\n"), `time_field = "ts"`, fmt.Sprintf(want, 2, "ts", "_kafka_timestamp", "ts"), 0},
		{"through a filter", head + filter + window("keep", "time_field = \"ts\"\n"), `time_field = "ts"`, fmt.Sprintf(want, 3, "ts", "_kafka_timestamp", "ts"), 0},
		{"defaulted downstream", strings.Replace(head, `key = "order_id"`, "key = \"order_id\"\ntime_field = \"ts\"", 1) + window("dedupe", ""), `id = "w"`, fmt.Sprintf(want, 2, "_kafka_timestamp", "ts", "_kafka_timestamp"), 1},
	} {
		_, err := Compile(pipeline(t, c.text), reg)
		at := fmt.Sprintf("test.toml:%d:", lineOf(c.text, c.at)-c.up)
		if err == nil || !strings.Contains(err.Error(), at) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: error:\n%v\nwant at %s:\n%s", c.name, err, at, c.msg)
		}
	}
	same := strings.Replace(head, `key = "order_id"`, "key = \"order_id\"\ntime_field = \"ts\"", 1)
	for name, text := range map[string]string{
		"both ts":          same + window("dedupe", "time_field = \"ts\"\n"),
		"both ts, filter":  same + filter + window("keep", "time_field = \"ts\"\n"),
		"both defaulted":   head + window("dedupe", ""),
		"default and same": head + window("dedupe", "time_field = \"_kafka_timestamp\"\n"),
	} {
		if _, err := Compile(pipeline(t, text), reg); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
