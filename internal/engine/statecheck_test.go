package engine

import (
	"fmt"
	"strings"
	"testing"

	"github.com/conveyor-etl/conveyor/operators"
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
