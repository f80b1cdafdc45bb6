package pipetest

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/plugin"
)

// registry is the built-in functions and test.refuse, an operator that
// fails the records with refuse = true, as an embedder's would.
func registry(t testing.TB) *plugin.Registry {
	reg := flow.Registry().Clone()
	err := reg.Register(&plugin.Spec{Name: "test.refuse", Plugin: "test", Operator: plugin.NewFactory(
		func() *struct{} { return &struct{}{} },
		func(context.Context, *struct{}, plugin.Env) (plugin.Operator, error) {
			return plugin.OperatorFunc(func(in, out []plugin.Record, fail func(int, error)) []plugin.Record {
				for i, r := range in {
					if gjson.GetBytes(r.Value, "refuse").Bool() {
						fail(i, fmt.Errorf("refused order %s", gjson.GetBytes(r.Value, "id").Raw))
						continue
					}
					out = append(out, r)
				}
				return out
			}), nil
		})})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// run runs paths and returns the output with durations made 0.00s.
func run(t *testing.T, o Options, paths ...string) (string, bool) {
	t.Helper()
	if o.Registry == nil {
		o.Registry = registry(t)
	}
	var out bytes.Buffer
	ok, err := Run(context.Background(), &out, paths, o)
	if err != nil {
		t.Fatal(err)
	}
	return regexp.MustCompile(`\(\d+\.\d\ds\)`).ReplaceAllString(out.String(), "(0.00s)"), ok
}

func TestExamples(t *testing.T) {
	out, ok := run(t, Options{Registry: flow.Registry()}, append(examples(t), "../../examples/orders-per-minute_test.toml")...)
	if !ok || !strings.HasSuffix(out, "ok: 6 case(s) in 4 file(s)\n") {
		t.Fatalf("ok %v:\n%s", ok, out)
	}
}

func TestPass(t *testing.T) {
	out, ok := run(t, Options{}, "testdata/pass_test.toml")
	want := `=== testdata/pass_test.toml
--- PASS: big orders go on keyed by customer; refused ones are dead-lettered (0.00s)
ok: 1 case(s) in 1 file(s)
`
	if !ok || out != want {
		t.Fatalf("ok %v, output:\n%s\nwant:\n%s", ok, out, want)
	}
}

// TestDeadLetterTopic: dead letters written to a topic by the kafka sink
// fixture are checked as those of a file.
func TestDeadLetterTopic(t *testing.T) {
	if out, ok := run(t, Options{}, "testdata/dlqtopic_test.toml"); !ok {
		t.Fatal(out)
	}
}

// TestRoute: the task (filter.expr, fields.set, fields.drop, a
// kafka sink with topic_expr and key_expr): each record's topic, key,
// murmur2 partition, headers, timestamp and value, and the record whose
// topic is not a valid name dead-lettered.
func TestRoute(t *testing.T) {
	if out, ok := run(t, Options{}, "testdata/route_test.toml"); !ok {
		t.Fatal(out)
	}
}

// TestSinkFailure: a record the kafka sink refuses (over max_message_bytes)
// fails at the sink fixture as in production, and error_handling
// dead-letters it while the records around it are written.
func TestSinkFailure(t *testing.T) {
	if out, ok := run(t, Options{}, "testdata/toolarge_test.toml"); !ok {
		t.Fatal(out)
	}
}

func TestFail(t *testing.T) {
	out, ok := run(t, Options{}, "testdata/fail_test.toml")
	want := `=== testdata/fail_test.toml
--- FAIL: a wrong amount, key and partition (0.00s)
    testdata/fail_test.toml:17:1: sink "out" record 2 (from input 2 at line 10, source "orders") differs:
        value (- want, + got):
          {
        -   "_kafka_key": "",
        +   "_kafka_key": null,
            "_kafka_offset": 1,
            "_kafka_partition": 0,
            "_kafka_timestamp": 1704067200000,
        -   "amount": 31,
        +   "amount": 30,
            "customer": "bob",
            "id": 2
          }
        key: want "bobby", got "bob"
        partition: want 1, got 2
--- FAIL: a dead letter that is not there, and counts (0.00s)
    testdata/fail_test.toml:28:1: 0 record(s) dead-lettered; expected dead letter 1 is missing:
        any record
    testdata/fail_test.toml:22:1: counts.filtered: want 0, got 1 (in=1 out=0 filtered=1 failed=0 dead_lettered=0 late=0)
--- PASS: passes (0.00s)
FAIL: 2 of 3 case(s) failed
`
	if ok || out != want {
		t.Fatalf("ok %v, output:\n%s\nwant:\n%s", ok, out, want)
	}
}

func TestMalformed(t *testing.T) {
	out, ok := run(t, Options{}, "testdata/malformed_test.toml", "testdata/badstage_test.toml", "testdata/nonkafka_test.toml")
	want := `=== testdata/malformed_test.toml
--- FAIL: testdata/malformed_test.toml
    testdata/malformed_test.toml:2:1: partitions: want a whole number from 1 to 100000, got "four"
    testdata/malformed_test.toml:9:1: tests[0].input[0].partition: want a whole number >= 0, got an integer -1
    testdata/malformed_test.toml:10:1: tests[0].input[0].colour: unknown key
    testdata/malformed_test.toml:11:1: tests[0].input[0].no_output: unknown key here (no_output is a key of [[tests]]: in TOML a key belongs to the last [header] above it, so write it before the first [[tests.input]])
    testdata/malformed_test.toml:15:1: tests[0].output[0].headers: want a table of strings, got an integer
=== testdata/badstage_test.toml
--- FAIL: testdata/badstage_test.toml
    testdata/badstage_test.toml:7:1: tests[0].input[0].stage: "order" is not a source of orders.toml (sources: orders) (did you mean "orders"?)
    testdata/badstage_test.toml:9:1: tests[0].input[0].partition: the case's topics have 1 partition(s), numbered from 0 (partitions = 1); raise partitions for 1
    testdata/badstage_test.toml:12:1: tests[0].output[0].stage: "outt" is not a sink of orders.toml (sinks: out) (did you mean "out"?)
=== testdata/nonkafka_test.toml
--- FAIL: testdata/nonkafka_test.toml
    testdata/nonkafka_test.toml:8:1: tests[0].input[0].key: stage "load" is json.read, not kafka: it has no key
    testdata/nonkafka_test.toml:9:1: tests[0].input[0].timestamp: stage "load" is json.read, not kafka: it has no timestamp
FAIL: 3 of 3 file(s) could not be run; 0 of 0 case(s) failed
`
	if ok || out != want {
		t.Fatalf("ok %v, output:\n%s\nwant:\n%s", ok, out, want)
	}
}

// TestEmbedded runs the same files through the in-process broker, with the
// real kafka source and sink: the same cases pass, and the failing ones
// fail with the same differences.
func TestEmbedded(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an in-process broker per case")
	}
	for _, file := range []string{"testdata/pass_test.toml", "testdata/fail_test.toml", "testdata/dlqtopic_test.toml", "testdata/route_test.toml", "testdata/toolarge_test.toml"} {
		fixtures, okF := run(t, Options{}, file)
		embedded, okE := run(t, Options{Embedded: true}, file)
		if okF != okE || embedded != fixtures {
			t.Errorf("%s: fixtures (ok %v):\n%s\nembedded (ok %v):\n%s", file, okF, fixtures, okE, embedded)
		}
	}
	out, ok := run(t, Options{Registry: flow.Registry(), Embedded: true}, examples(t)...)
	if !ok || !strings.HasSuffix(out, "ok: 4 case(s) in 3 file(s)\n") {
		t.Fatalf("examples, embedded: ok %v:\n%s", ok, out)
	}
}

// TestStop: a case expects the run to stop with an error (strategy = stop,
// set through the file's env), and one that stops unexpectedly fails with
// the error.
func TestStop(t *testing.T) {
	out, ok := run(t, Options{}, "testdata/stop_test.toml")
	want := `=== testdata/stop_test.toml
--- PASS: a refused order stops the run (0.00s)
--- FAIL: a run that stops, expected to succeed (0.00s)
    testdata/stop_test.toml:18:1: the run failed: stage "check" failed on record orders/0@0: refused order 3 (error_handling.strategy = stop; nothing from this record on is committed)
FAIL: 1 of 2 case(s) failed
`
	if ok || out != want {
		t.Fatalf("ok %v, output:\n%s\nwant:\n%s", ok, out, want)
	}
}

// examples are the spec's examples' test files (examples/customcli's needs
// that program's own operator; orders-per-minute's windows still open at
// the end are emitted only without a Kafka source, so only with fixtures).
func examples(t *testing.T) []string {
	files, err := filepath.Glob("../../examples/kafka-*_test.toml")
	if err != nil || len(files) != 3 {
		t.Fatalf("examples: %v %v", files, err)
	}
	return files
}

// A failed counts check shows every count, late too.
func TestFailLate(t *testing.T) {
	out, ok := run(t, Options{}, "testdata/late_test.toml")
	want := "    testdata/late_test.toml:4:1: counts.late: want 0, got 1 (in=3 out=2 filtered=0 failed=0 dead_lettered=0 late=1)\n"
	if ok || !strings.Contains(out, want) {
		t.Fatalf("ok %v, output:\n%s\nwant a line:\n%s", ok, out, want)
	}
}

// TestTableJoinRows: a table.join reads its table from the case's
// [[tests.table]] rows (later rows of a key replace it, a tombstone deletes
// it), globally and partitioned by murmur2 over the case's partitions,
// without dialling the pipeline's brokers (broker.invalid); the same files
// pass through the embedded broker.
func TestTableJoinRows(t *testing.T) {
	files := []string{"testdata/table_test.toml", "testdata/table_partitioned_test.toml"}
	for _, o := range []Options{{}, {Embedded: true}} {
		out, ok := run(t, o, files...)
		if !ok || !strings.HasSuffix(out, "ok: 3 case(s) in 2 file(s)\n") {
			t.Fatalf("embedded %v: ok %v:\n%s", o.Embedded, ok, out)
		}
	}
}

// TestTableJoinRowMistakes: a row naming a stage that is not a table.join
// gets a did-you-mean with file:line:col; a row without value or tombstone
// is refused.
func TestTableJoinRowMistakes(t *testing.T) {
	out, ok := run(t, Options{}, "testdata/table_badstage_test.toml", "testdata/table_novalue_test.toml")
	for _, want := range []string{
		`testdata/table_badstage_test.toml:7:1: tests[0].table[0].stage: "with_usr" is not a table.join stage of enrich-global.toml (table.join stages: [with_user]) (did you mean "with_user"?)`,
		`testdata/table_novalue_test.toml:6:1: tests[0].table[0].value: missing: give the row (a table or a string), or tombstone = true`,
	} {
		if ok || !strings.Contains(out, want) {
			t.Errorf("ok %v, output:\n%s\nwant it to contain:\n%s", ok, out, want)
		}
	}
}

// A stage that repartitions cannot run on fixtures: the case's failure
// names the topic, the source and what to do instead, not "the source
// above cannot repartition".
func TestRepartitionOnFixtures(t *testing.T) {
	out, ok := run(t, Options{}, "testdata/repartition_test.toml")
	want := `    testdata/repartition_test.toml:5:1: the run failed: stage "count" (window.aggregate): repartition = "auto" needs topic "g-count-repartition", but source "orders" has no Kafka topics to repartition through (conveyor test's fixtures: run the case with --broker embedded, or set repartition = "never" when the input's Kafka key is already the stage's key)` + "\n"
	if ok || !strings.Contains(out, want) {
		t.Fatalf("ok %v, output:\n%s\nwant a line:\n%s", ok, out, want)
	}
}
