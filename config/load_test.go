package config_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-etl/conveyor/config"
)

// src joins lines into a document, so that a test's line numbers are the
// indexes of its lines plus one.
func src(lines ...string) []byte { return []byte(strings.Join(lines, "\n") + "\n") }

// noEnv is an environment where nothing is set.
func noEnv(string) (string, bool) { return "", false }

// envOf is an environment holding m.
func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// errLines renders err as config.Errors does, one problem a line.
func errLines(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

func sameLines(t *testing.T, got error, want []string) {
	t.Helper()
	g := errLines(got)
	if strings.Join(g, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n  got:  %s\n  want: %s", strings.Join(g, "\n        "), strings.Join(want, "\n        "))
	}
}

// twoStages is a well-formed source -> sink pipeline, lines 1-8.
var twoStages = []string{
	`[[stages]]`,              // 1
	`id = "source"`,           // 2
	`function = "json.read"`,  // 3
	`inputs = []`,             // 4
	`[[stages]]`,              // 5
	`id = "sink"`,             // 6
	`function = "json.write"`, // 7
	`inputs = ["source"]`,     // 8
}

func with(lines ...string) []string { return append(append([]string{}, twoStages...), lines...) }

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		src  []string
		want []string
	}{
		// TOML syntax: one error, with go-toml's position, no "toml:" stutter.
		{"syntax: unclosed table header",
			[]string{`[pipeline`, `name = "x"`},
			[]string{`p.toml:1:10: invalid TOML: expected ']' to close table name`}},
		{"syntax: unclosed string",
			[]string{`[pipeline]`, `name = "x`},
			[]string{`p.toml:2:10: invalid TOML: basic strings cannot have new lines (is a closing quote missing?)`}},
		{"syntax: unquoted string",
			[]string{`[global]`, `log_level = debug`},
			[]string{`p.toml:2:13: invalid TOML: unexpected character U+0064 'd' at start of value (text must be quoted, as in topic = "events")`}},
		{"syntax: [[stage]] typo before [stages.config]",
			[]string{`[[stages]]`, `id = "a"`, `[stages.config]`, `x = 1`, `[[stage]]`, `id = "b"`, `[stages.config]`, `y = 2`},
			[]string{`p.toml:7:2: invalid TOML: table config already exists (each [[stages]] has one [stages.config]: is a [[stages]] header missing or misspelled above it?)`}},
		{"syntax: duplicate key",
			[]string{`[pipeline]`, `name = "a"`, `name = "b"`},
			[]string{`p.toml:3:1: invalid TOML: key name is already defined`}},

		// Top level.
		{"unknown table with did-you-mean",
			append([]string{`[globl]`, `plugins = ["kafka"]`}, twoStages...),
			[]string{`p.toml:1:1: globl: unknown table (did you mean "global"?)`}},
		{"unknown array of tables [[stage]]",
			[]string{`[[stage]]`, `id = "a"`, `function = "json.read"`},
			[]string{`p.toml:1:1: stage: unknown table (did you mean "stages"?)`}},
		{"unknown table far from any",
			with(`[monitoring]`, `port = 9000`),
			[]string{`p.toml:9:1: monitoring: unknown table`}},
		{"pipeline unknown key",
			append([]string{`[pipeline]`, `nmae = "x"`}, twoStages...),
			[]string{`p.toml:2:1: pipeline.nmae: unknown key (did you mean "name"?)`}},
		{"pipeline name not a string",
			append([]string{`[pipeline]`, `version = 1.0`}, twoStages...),
			[]string{`p.toml:2:1: pipeline.version: want a string, got a float 1`}},
		{"global not a table",
			append([]string{`global = "kafka"`}, twoStages...),
			[]string{`p.toml:1:1: global: must be a table, got a string`}},
		{"plugins not a list",
			append([]string{`[global]`, `plugins = 5`}, twoStages...),
			[]string{`p.toml:2:1: global.plugins: want a string or a list of strings, got an integer 5`}},
		{"plugins element not a string",
			append([]string{`[global]`, `plugins = ["kafka", 5]`}, twoStages...),
			[]string{`p.toml:2:21: global.plugins: want a list of strings, element 1 is an integer 5`}},
		{"bad log level",
			append([]string{`[global]`, `log_level = "verbose"`}, twoStages...),
			[]string{`p.toml:2:1: global.log_level: unknown value "verbose" (want one of debug, info, warn, error)`}},
		{"http_addr not host:port",
			append([]string{`[global]`, `http_addr = "9464"`}, twoStages...),
			[]string{`p.toml:2:1: global.http_addr: want host:port (e.g. "127.0.0.1:9464"), got "9464"`}},
		{"stall_timeout_ms not positive",
			append([]string{`[global]`, `stall_timeout_ms = 0`}, twoStages...),
			[]string{`p.toml:2:1: global.stall_timeout_ms: want a duration >= 1 ms, got an integer 0`}},
		{"variables not a table",
			append([]string{`[global]`, `variables = ["a"]`}, twoStages...),
			[]string{`p.toml:2:1: global.variables: must be a table, got an array`}},

		// Stages: structure.
		{"stages not an array of tables",
			[]string{`stages = "source"`},
			[]string{`p.toml:1:1: stages: must be an array of tables ([[stages]]), got a string`}},
		{"stage not a table",
			[]string{`stages = [1]`},
			[]string{`p.toml:1:11: stages[0]: must be a table, got an integer`}},
		{"unknown stage key fucntion",
			[]string{`[[stages]]`, `id = "source"`, `fucntion = "json.read"`, `inputs = []`},
			[]string{
				`p.toml:1:1: stages[0] "source" function: missing required key`,
				`p.toml:3:1: stages[0] "source" fucntion: unknown key (did you mean "function"?)`,
			}},
		{"function settings outside [stages.config]",
			with(`path = "out.json"`),
			[]string{`p.toml:9:1: stages[1] "sink" path: unknown key (a stage has id, function, inputs and config: the function's settings go in [stages.config])`}},
		{"missing id",
			[]string{`[[stages]]`, `function = "json.read"`, `inputs = []`},
			[]string{`p.toml:1:1: stages[0] id: missing required key`}},
		{"missing function",
			[]string{`[[stages]]`, `id = "source"`, `inputs = []`},
			[]string{`p.toml:1:1: stages[0] "source" function: missing required key`}},
		{"id is a number",
			[]string{`[[stages]]`, `id = 7`, `function = "json.read"`},
			[]string{`p.toml:2:1: stages[0] id: want a string, got an integer 7`}},
		{"function is a number",
			[]string{`[[stages]]`, `id = "source"`, `function = 1`},
			[]string{`p.toml:3:1: stages[0] "source" function: want a string, got an integer 1`}},
		{"inputs not a list",
			append(twoStages[:7:7], `inputs = 5`),
			[]string{`p.toml:8:1: stages[1] "sink" inputs: want a list of strings, got an integer 5`}},
		{"inputs a table",
			append(twoStages[:7:7], `inputs = { from = "source" }`),
			[]string{`p.toml:8:1: stages[1] "sink" inputs: want a list of strings, got a table`}},
		{"inputs element not a string",
			append(twoStages[:7:7], `inputs = ["source", 2]`),
			[]string{`p.toml:8:21: stages[1] "sink" inputs: want a list of strings, element 1 is an integer 2`}},
		{"config not a table",
			with(`config = "out.json"`),
			[]string{`p.toml:9:1: stages[1] "sink" config: must be a table ([stages.config]), got a string`}},

		// Stages: the graph.
		{"duplicate stage id",
			append(twoStages[:5:5], `id = "source"`, `function = "json.write"`, `inputs = ["source"]`),
			[]string{
				`p.toml:5:1: stages[1] "source" id: duplicate stage id (first used by stages[0] at p.toml:1:1)`,
				`p.toml:8:1: stages[1] "source" inputs: a stage cannot be its own input`,
			}},
		{"input names no stage, did-you-mean",
			append(twoStages[:7:7], `inputs = ["sorce"]`),
			[]string{`p.toml:8:1: stages[1] "sink" inputs: no stage has id "sorce" (did you mean "source"?)`}},
		{"input names no stage, nothing close",
			append(twoStages[:7:7], `inputs = ["kafka_in"]`),
			[]string{`p.toml:8:1: stages[1] "sink" inputs: no stage has id "kafka_in"`}},
		{"self input",
			append(twoStages[:7:7], `inputs = ["sink"]`),
			[]string{`p.toml:8:1: stages[1] "sink" inputs: a stage cannot be its own input`}},
		{"input listed twice",
			append(twoStages[:7:7], `inputs = ["source", "source"]`),
			[]string{`p.toml:8:1: stages[1] "sink" inputs: input "source" is listed twice`}},
		{"cycle a -> b -> a",
			[]string{
				`[[stages]]`, `id = "a"`, `function = "filter.apply"`, `inputs = ["b"]`,
				`[[stages]]`, `id = "b"`, `function = "filter.apply"`, `inputs = ["a"]`,
			},
			[]string{`p.toml:8:1: stages[1] "b" inputs: cycle: a -> b -> a`}},
		{"cycle a -> b -> c -> a",
			[]string{
				`[[stages]]`, `id = "a"`, `function = "filter.apply"`, `inputs = ["c"]`,
				`[[stages]]`, `id = "b"`, `function = "filter.apply"`, `inputs = ["a"]`,
				`[[stages]]`, `id = "c"`, `function = "filter.apply"`, `inputs = ["b"]`,
			},
			[]string{`p.toml:8:1: stages[1] "b" inputs: cycle: a -> b -> c -> a`}},

		// [error_handling].
		{"error_handling unknown key",
			with(`[error_handling]`, `max_retry = 3`),
			[]string{`p.toml:10:1: error_handling.max_retry: unknown key (did you mean "max_retries"?)`}},
		{"strategy unknown",
			with(`[error_handling]`, `strategy = "skip"`),
			[]string{`p.toml:10:1: error_handling.strategy: unknown value "skip" (want one of stop, continue, retry)`}},
		{"strategy not a string",
			with(`[error_handling]`, `strategy = 1`),
			[]string{`p.toml:10:1: error_handling.strategy: want a string, got an integer 1`}},
		{"max_retries negative",
			with(`[error_handling]`, `max_retries = -1`),
			[]string{`p.toml:10:1: error_handling.max_retries: want a whole number >= 0, got an integer -1`}},
		{"max_retries not a number",
			with(`[error_handling]`, `max_retries = "three"`),
			[]string{`p.toml:10:1: error_handling.max_retries: want a whole number >= 0, got "three"`}},
		{"max_retries fractional",
			with(`[error_handling]`, `max_retries = 2.5`),
			[]string{`p.toml:10:1: error_handling.max_retries: want a whole number >= 0, got a float 2.5`}},
		{"retry_delay_seconds with a unit",
			with(`[error_handling]`, `retry_delay_seconds = "5s"`),
			[]string{`p.toml:10:1: error_handling.retry_delay_seconds: want a number of seconds >= 0, got "5s"`}},
		{"retry_delay_seconds negative",
			with(`[error_handling]`, `retry_delay_seconds = -1`),
			[]string{`p.toml:10:1: error_handling.retry_delay_seconds: want a number of seconds >= 0, got an integer -1`}},
		{"backoff unknown",
			with(`[error_handling]`, `backoff = "linear"`),
			[]string{`p.toml:10:1: error_handling.backoff: unknown value "linear" (want one of fixed, exponential)`}},
		{"dead_letter_queue with path and topic",
			with(`[error_handling.dead_letter_queue]`, `path = "dead.jsonl"`, `topic = "dlq"`),
			[]string{`p.toml:9:1: error_handling.dead_letter_queue: set exactly one of path (a JSON Lines file) or topic (a Kafka topic)`}},
		{"dead_letter_queue with neither",
			with(`[error_handling.dead_letter_queue]`, `brokers = "localhost:9092"`),
			[]string{`p.toml:9:1: error_handling.dead_letter_queue: set exactly one of path (a JSON Lines file) or topic (a Kafka topic)`}},
		{"dead_letter_queue file with a kafka key",
			with(`[error_handling.dead_letter_queue]`, `path = "dead.jsonl"`, `brokers = "localhost:9092"`),
			[]string{`p.toml:11:1: error_handling.dead_letter_queue.brokers: unknown key (a dead-letter file takes only path; kafka keys such as brokers go with topic)`}},
		{"dead_letter_queue wrong type",
			with(`[error_handling]`, `dead_letter_queue = true`),
			[]string{`p.toml:10:1: error_handling.dead_letter_queue: want a file path or a table with path or topic, got a boolean`}},
		{"dead_letter_queue inline table",
			with(`[error_handling]`, `dead_letter_queue = { path = "d.jsonl", topic = "dlq" }`),
			[]string{`p.toml:10:1: error_handling.dead_letter_queue: set exactly one of path (a JSON Lines file) or topic (a Kafka topic)`}},

		// Several problems: all reported, in file order.
		{"several problems sorted by position",
			[]string{
				`[global]`, `log_level = "loud"`,
				`[[stages]]`, `id = "a"`, `function = "json.read"`, `inputs = ["nope"]`,
				`[error_handling]`, `strategy = "panic"`,
			},
			[]string{
				`p.toml:2:1: global.log_level: unknown value "loud" (want one of debug, info, warn, error)`,
				`p.toml:6:1: stages[0] "a" inputs: no stage has id "nope"`,
				`p.toml:8:1: error_handling.strategy: unknown value "panic" (want one of stop, continue, retry)`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := config.ParseWithEnv("p.toml", src(tt.src...), noEnv)
			sameLines(t, err, tt.want)
			if strings.HasPrefix(tt.name, "syntax") {
				if p != nil {
					t.Errorf("Parse returned a pipeline for invalid TOML")
				}
			} else if p == nil {
				t.Errorf("Parse returned no pipeline with structural errors")
			}
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("errors.As(*config.Error) failed on %T", err)
			}
		})
	}
}

func TestParseOK(t *testing.T) {
	p, err := config.ParseWithEnv("p.toml", src(
		`[pipeline]`,
		`name = "etl"`,
		`version = "1.0.0"`,
		`description = "d"`,
		`[global]`,
		`plugins = ["kafka", "json"]`,
		`log_level = "WARN"`,
		`http_addr = "127.0.0.1:9464"`,
		`stall_timeout_ms = "1500"`,
		`[[stages]]`,
		`id = "source"`,
		`function = "json.read"`,
		`inputs = []`,
		`[stages.config]`,
		`path = "in.json"`,
		`[[stages]]`,
		`id = "sink"`,
		`function = "json.write"`,
		`inputs = "source"`, // one string is a list of one
		`[error_handling]`,
		`strategy = "Retry"`,
		`max_retries = "5"`,
		`retry_delay_seconds = 0.25`,
		`backoff = "exponential"`,
		`dead_letter_queue = "dead.jsonl"`,
	), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	wantMeta := config.DefaultMeta()
	wantMeta.Name, wantMeta.Version, wantMeta.Description, wantMeta.GuaranteePos = "etl", "1.0.0", "d", p.Pipeline.GuaranteePos
	if p.Pipeline != wantMeta {
		t.Errorf("meta = %+v", p.Pipeline)
	}
	if strings.Join(p.Global.Plugins, ",") != "kafka,json" || p.Global.LogLevel != "warn" {
		t.Errorf("global = %+v", p.Global)
	}
	if p.Global.HTTPAddr != "127.0.0.1:9464" || p.Global.StallTimeout != 1500*time.Millisecond {
		t.Errorf("http_addr %q, stall_timeout_ms %s; want 127.0.0.1:9464, 1.5s", p.Global.HTTPAddr, p.Global.StallTimeout)
	}
	if p.Global.PluginsPos.String() != "p.toml:6:1" {
		t.Errorf("PluginsPos = %s", p.Global.PluginsPos)
	}
	if len(p.Stages) != 2 || p.Stages[1].Inputs[0] != "source" || len(p.Stages[0].Inputs) != 0 {
		t.Fatalf("stages = %+v", p.Stages)
	}
	st := p.Stages[1]
	if st.Index != 1 || st.Pos.String() != "p.toml:16:1" || st.FunctionPos.String() != "p.toml:18:1" || st.InputsPos.String() != "p.toml:19:1" {
		t.Errorf("stage positions: %d %s %s %s", st.Index, st.Pos, st.FunctionPos, st.InputsPos)
	}
	want := config.ErrorHandling{Strategy: config.Retry, MaxRetries: 5, RetryDelay: 250 * time.Millisecond, Backoff: "exponential",
		DeadLetterQueue: &config.DeadLetter{Path: "dead.jsonl", Pos: config.Pos{File: "p.toml", Line: 25, Col: 1}}}
	got := p.ErrorHandling
	if got.Strategy != want.Strategy || got.MaxRetries != want.MaxRetries || got.RetryDelay != want.RetryDelay ||
		got.Backoff != want.Backoff || got.DeadLetterQueue == nil || got.DeadLetterQueue.Path != want.DeadLetterQueue.Path ||
		got.DeadLetterQueue.Pos != want.DeadLetterQueue.Pos || got.DeadLetterQueue.Config != nil {
		t.Errorf("error_handling = %+v (dlq %+v)", got, got.DeadLetterQueue)
	}
}

func TestParseDefaults(t *testing.T) {
	p, err := config.ParseWithEnv("p.toml", src(twoStages...), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if d := config.DefaultErrorHandling(); p.ErrorHandling.Strategy != d.Strategy || p.ErrorHandling.MaxRetries != 3 ||
		p.ErrorHandling.RetryDelay != time.Second || p.ErrorHandling.Backoff != "fixed" || p.ErrorHandling.DeadLetterQueue != nil {
		t.Errorf("default error_handling = %+v", p.ErrorHandling)
	}
	if p.File != "p.toml" || p.Global.LogLevel != "" {
		t.Errorf("File %q LogLevel %q", p.File, p.Global.LogLevel)
	}
}

func TestDeadLetterTopic(t *testing.T) {
	p, err := config.ParseWithEnv("p.toml", src(with(
		`[error_handling]`,                   // 9
		`strategy = "continue"`,              // 10
		`[error_handling.dead_letter_queue]`, // 11
		`topic = "dlq"`,                      // 12
		`brokers = "${DLQ_BROKERS:-b:9092}"`, // 13
		`sasl_username = "dlq-writer"`,       // 14
	)...), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	dl := p.ErrorHandling.DeadLetterQueue
	if dl == nil || dl.Topic != "dlq" || dl.Path != "" || dl.Pos.String() != "p.toml:11:1" {
		t.Fatalf("dead letter = %+v", dl)
	}
	// Every key is kept, expanded, with its place, for the kafka sink to check.
	want := map[string]string{"topic": "dlq @ p.toml:12:1", "brokers": "b:9092 @ p.toml:13:1", "sasl_username": "dlq-writer @ p.toml:14:1"}
	if len(dl.Config) != len(want) {
		t.Errorf("config = %v, want the keys of %v", dl.Config, want)
	}
	for k, w := range want {
		if v := dl.Config[k]; fmt.Sprintf("%v @ %s", v.V, v.Pos) != w {
			t.Errorf("%s = %v @ %s, want %s", k, v.V, v.Pos, w)
		}
	}
}

// TestConfigPositions checks where [stages.config] keys are recorded: in the
// tables of later entries of the array of tables, in inline tables, dotted
// keys and nested tables.
func TestConfigPositions(t *testing.T) {
	p, err := config.ParseWithEnv("p.toml", src(
		`[[stages]]`,                 // 1
		`id = "a"`,                   // 2
		`function = "kafka"`,         // 3
		`inputs = []`,                // 4
		`[stages.config]`,            // 5
		`topic = "t0"`,               // 6
		``,                           // 7
		`[[stages]]`,                 // 8
		`id = "b"`,                   // 9
		`function = "filter.apply"`,  // 10
		`inputs = ["a"]`,             // 11
		``,                           // 12
		`[stages.config]`,            // 13
		`  column = "amount"`,        // 14
		`operator = ">="`,            // 15
		`value    = [1, 2]`,          // 16
		``,                           // 17
		`[[stages]]`,                 // 18
		`id = "c"`,                   // 19
		`function = "kafka"`,         // 20
		`inputs = ["b"]`,             // 21
		`[stages.config]`,            // 22
		`brokers = "localhost:9092"`, // 23
		`topic = "t2"`,               // 24
		`[stages.config.extra]`,      // 25
		`x = 1`,                      // 26
		`[[stages]]`,                 // 27
		`id = "d"`,                   // 28
		`function = "json.write"`,    // 29
		`inputs = ["c"]`,             // 30
		`config = { path = "out.json", "pretty" = true }`, // 31
		`[[stages]]`,                // 32
		`id = "e"`,                  // 33
		`function = "json.write"`,   // 34
		`inputs = ["c"]`,            // 35
		`config.path = "e.json"`,    // 36
		`config . format = "jsonl"`, // 37
	), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]string{
		"a": {"topic": "6:1"},
		"b": {"column": "14:3", "operator": "15:1", "value": "16:1"},
		"c": {"brokers": "23:1", "topic": "24:1", "extra": "25:1"},
		"d": {"path": "31:12", "pretty": "31:31"},
		"e": {"path": "36:1", "format": "37:1"}, // dotted keys: where the key starts
	}
	for _, st := range p.Stages {
		w := want[st.ID]
		if len(st.Config) != len(w) {
			t.Errorf("stage %s: config keys %v, want %v", st.ID, st.Config, w)
		}
		for k, pos := range w {
			v, ok := st.Config[k]
			if !ok {
				t.Errorf("stage %s: no config key %s", st.ID, k)
				continue
			}
			if got := v.Pos.String(); got != "p.toml:"+pos {
				t.Errorf("stage %s config.%s at %s, want p.toml:%s", st.ID, k, got, pos)
			}
		}
	}
	if v := p.Stages[1].Config["value"].V; len(v.([]any)) != 2 || v.([]any)[0] != int64(1) {
		t.Errorf("value = %#v", v)
	}
	if v := p.Stages[2].Config["extra"].V.(map[string]any); v["x"] != int64(1) {
		t.Errorf("extra = %#v", v)
	}
	wantStage := []string{"1:1", "8:1", "18:1", "27:1", "32:1"}
	for i, st := range p.Stages {
		if st.Pos.String() != "p.toml:"+wantStage[i] {
			t.Errorf("stage %d at %s, want %s", i, st.Pos, wantStage[i])
		}
	}
}

func TestLoad(t *testing.T) {
	if _, err := config.Load("testdata/does-not-exist.toml"); err == nil || !strings.HasPrefix(err.Error(), "read pipeline: ") {
		t.Errorf("Load of a missing file: %v", err)
	}
	p, err := config.Load("../examples/kafka-etl-example.toml")
	if err != nil {
		t.Fatal(err)
	}
	if p.File != "../examples/kafka-etl-example.toml" || len(p.Stages) != 3 || p.Stages[1].Config["operator"].V != ">=" {
		t.Errorf("example parsed as %+v", p)
	}
	if got := p.Stages[1].Config["value"].Pos.String(); got != "../examples/kafka-etl-example.toml:28:1" {
		t.Errorf("value at %s", got)
	}
}

func TestPipelineValidate(t *testing.T) {
	p := &config.Pipeline{Stages: []config.Stage{
		{Index: 0, ID: "a", Inputs: []string{"b"}},
		{Index: 1, ID: "b", Inputs: []string{"a"}},
		{Index: 2, ID: "a"},
	}}
	// Without positions the order is the order of the checks.
	sameLines(t, p.Validate(), []string{
		`pipeline: stages[2] "a" id: duplicate stage id (first used by stages[0] at pipeline)`,
		`pipeline: stages[1] "b" inputs: cycle: a -> b -> a`,
	})
}

func TestMerge(t *testing.T) {
	a := &config.Error{Pos: config.Pos{File: "f", Line: 2, Col: 1}, Stage: 0, StageID: "s", Key: "inputs", Msg: "m"}
	b := &config.Error{Pos: config.Pos{File: "f", Line: 1, Col: 1}, Stage: -1, Key: "global.plugins", Msg: "n"}
	dup := *a
	err := config.Merge(config.Errors{a}, nil, errors.Join(b, &dup), errors.New("plain"))
	sameLines(t, err, []string{
		`pipeline: plain`,
		`f:1:1: global.plugins: n`,
		`f:2:1: stages[0] "s" inputs: m`,
	})
	if config.Merge(nil, nil) != nil {
		t.Error("Merge of nothing is not nil")
	}
}

func TestClosest(t *testing.T) {
	known := []string{"==", "=", "!=", "<>", ">", ">=", "<", "<=", "contains", "in"}
	for got, want := range map[string]string{
		"=>": ">=", "=<": "<=", "><": "<>", "contians": "contains", "IN": "in", "between": "", "inn": "in",
	} {
		if c := config.Closest(got, known); c != want {
			t.Errorf("Closest(%q) = %q, want %q", got, c, want)
		}
	}
	for got, want := range map[string]string{"fucntion": "function", "group-id": "group_id", "kafak": "kafka", "compresion": "compression"} {
		if c := config.Closest(got, []string{"function", "group_id", "kafka", "compression", "id"}); c != want {
			t.Errorf("Closest(%q) = %q, want %q", got, c, want)
		}
	}
	// A key without its unit, or with another unit, is the key with it.
	keys := []string{"linger_ms", "batch_linger_ms", "timeout_ms", "dial_timeout_ms", "retry_delay_seconds", "max_inflight_mb", "max_message_bytes", "max_messages", "topic"}
	for got, want := range map[string]string{
		"linger": "linger_ms", "linger_s": "linger_ms", "LINGER-MS": "linger_ms", "timeout": "timeout_ms", "retry_delay": "retry_delay_seconds",
		"retry_delay_ms": "retry_delay_seconds", "max_inflight": "max_inflight_mb", "max_message": "max_message_bytes", "topic_ms": "topic", "ms": "",
	} {
		if c := config.Closest(got, keys); c != want {
			t.Errorf("Closest(%q) = %q, want %q", got, c, want)
		}
	}
	// Short words: one edit at most, so that "skip" is not taken for "stop"
	// (its opposite) while "rety" is "retry".
	for got, want := range map[string]string{"skip": "", "rety": "retry", "stpo": "stop", "fxd": ""} {
		if c := config.Closest(got, []string{"stop", "continue", "retry", "fixed"}); c != want {
			t.Errorf("Closest(%q) = %q, want %q", got, c, want)
		}
	}
}
