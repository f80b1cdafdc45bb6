package engine

import (
	"fmt"
	"strings"
	"testing"

	"github.com/conveyor-etl/conveyor/connectors/kafka"
	"github.com/conveyor-etl/conveyor/operators"
	"github.com/conveyor-etl/conveyor/plugin"
)

// eosPipeline is a kafka source feeding a kafka sink under exactly-once;
// the source's and sink's extra keys, and text after the stages.
func eosPipeline(source, sink, after string) string {
	return `[pipeline]
name = "p"
guarantee = "exactly-once"
[[stages]]
id = "in"
function = "kafka"
[stages.config]
brokers = "b1:9092,b2:9092"
topic = "in"
group_id = "g"
` + source + `[[stages]]
id = "out"
function = "kafka"
inputs = ["in"]
[stages.config]
topic = "out"
` + sink + after
}

// guarantee = "exactly-once" refuses, at the stage and key and saying why,
// what cannot take part in one Kafka transaction; a pipeline that can is
// accepted.
func TestExactlyOnceRefusals(t *testing.T) {
	reg := (&world{}).registry()
	for _, s := range []*plugin.Spec{kafka.Spec(), operators.DedupeSpec(), operators.WindowAggregateSpec()} {
		if err := reg.Register(s); err != nil {
			t.Fatal(err)
		}
	}
	inst := "group_instance_id = \"i1\"\n"
	ok := eosPipeline(inst, "brokers = \"b2:9092,b1:9092\"\n", "")
	if _, err := Compile(pipeline(t, ok), reg); err != nil {
		t.Fatalf("a kafka to kafka pipeline on one cluster: %v", err)
	}
	// Stateful stages join the transaction with their changelog (here on
	// input already partitioned by their key; a repartition joins it too:
	// TestIntegrationExactlyOnceRepartitionWindows).
	for id, stage := range map[string]string{
		"d": "function = \"dedupe.apply\"\ninputs = [\"in\"]\n[stages.config]\nkey = \"id\"\nrepartition = \"never\"\n",
		"w": "function = \"window.aggregate\"\ninputs = [\"in\"]\n[stages.config]\nsize_ms = 60000\nrepartition = \"never\"\naggregates = { n = \"count()\" }\n",
	} {
		text := fmt.Sprintf("[[stages]]\nid = %q\n%s[[stages]]\nid = \"out2\"\nfunction = \"kafka\"\ninputs = [%[1]q]\n[stages.config]\nbrokers = \"b1:9092,b2:9092\"\ntopic = \"out2\"\n", id, stage)
		if _, err := Compile(pipeline(t, eosPipeline(inst, "brokers = \"b1:9092,b2:9092\"\n", text)), reg); err != nil {
			t.Errorf("a stateful stage under exactly-once: %v", err)
		}
	}
	for _, tc := range []struct{ name, text, at, want string }{
		{"no instance identity", eosPipeline("", "brokers = \"b1:9092,b2:9092\"\n", ""), `[pipeline]`, // at the stage's header, 3 lines below
			`stages[0] "in" config.group_instance_id: guarantee = "exactly-once" needs a stable instance identity: set group_instance_id`},
		{"per-message source", eosPipeline(inst+"delivery = \"per-message\"\n", "brokers = \"b1:9092\"\n", ""), `delivery = "per-message"`,
			`stages[0] "in" config.delivery: guarantee = "exactly-once" needs delivery = "batch"`},
		{"per-message sink", eosPipeline(inst, "brokers = \"b1:9092,b2:9092\"\ndelivery = \"per-message\"\n", ""), `delivery = "per-message"`,
			`stages[1] "out" config.delivery: guarantee = "exactly-once" needs delivery = "batch"`},
		{"clusters differ", eosPipeline(inst, "brokers = \"other:9092\"\n", ""), `brokers = "other:9092"`,
			`stages[1] "out" config.brokers: guarantee = "exactly-once" (test.toml:3:1) needs every stage on one cluster`},
		{"dead-letter file", eosPipeline(inst, "brokers = \"b1:9092,b2:9092\"\n", "[error_handling]\nstrategy = \"continue\"\ndead_letter_queue = \"dead.jsonl\"\n"), `dead_letter_queue`,
			`error_handling.dead_letter_queue.path: guarantee = "exactly-once" (test.toml:3:1) cannot write a dead-letter file inside the transaction`},
		{"dead-letter topic on another cluster", eosPipeline(inst, "brokers = \"b1:9092,b2:9092\"\n", "[error_handling]\nstrategy = \"continue\"\n[error_handling.dead_letter_queue]\ntopic = \"dlq\"\nbrokers = \"x:1\"\n"), `[error_handling.dead_letter_queue]`,
			`error_handling.dead_letter_queue.brokers: guarantee = "exactly-once" (test.toml:3:1) needs every stage on one cluster`},
		{"a sink of another function", eosPipeline(inst, "brokers = \"b1:9092,b2:9092\"\n", "[[stages]]\nid = \"f\"\nfunction = \"flaky\"\ninputs = [\"in\"]\n"), `function = "flaky"`,
			`stages[2] "f" function: guarantee = "exactly-once" (test.toml:3:1) needs every source and sink to be kafka: flaky cannot read, write or commit inside a Kafka transaction`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(pipeline(t, tc.text), reg)
			line := lineOf(tc.text, tc.at)
			if tc.at == "[pipeline]" {
				line += 3
			}
			want := fmt.Sprintf("test.toml:%d:", line)
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error:\n%v\nwant at %s:\n%s", err, want, tc.want)
			}
		})
	}
}
