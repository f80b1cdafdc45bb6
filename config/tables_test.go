package config_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-etl/conveyor/config"
)

// parseErrs parses lines and returns its errors, failing when there are
// none or they are not config.Errors.
func parseErrs(t *testing.T, env func(string) (string, bool), lines ...string) config.Errors {
	t.Helper()
	_, err := config.ParseWithEnv("p.toml", src(lines...), env)
	var es config.Errors
	if !errors.As(err, &es) {
		t.Fatalf("want config.Errors, got %v", err)
	}
	return es
}

// sameErrs checks the errors' text and kinds.
func sameErrs(t *testing.T, es config.Errors, want []string, kinds []config.Kind) {
	t.Helper()
	sameLines(t, es, want)
	if len(es) != len(kinds) {
		return
	}
	for i, e := range es {
		if e.Kind != kinds[i] {
			t.Errorf("error %d (%s): kind %s, want %s", i, e, e.Kind, kinds[i])
		}
	}
}

// TestTablesUnknownKey: each top-level table refuses a key it does not
// have, at the key's line and column, with a did-you-mean, as a stage
// config does.
func TestTablesUnknownKey(t *testing.T) {
	es := parseErrs(t, noEnv, append([]string{
		`[pipeline]`,                    // 1
		`name = "p"`,                    // 2
		`  descripton = "typo"`,         // 3
		`[global]`,                      // 4
		`max_inflight = 8`,              // 5
		`loglevel = "debug"`,            // 6
		`metrics = true`,                // 7: nothing close
		`[error_handling]`,              // 8
		`strategy = "retry"`,            // 9
		`backof = "fixed"`,              // 10
		`dead_letter_queue = "d.jsonl"`, // 11
	}, twoStages...)...)
	sameErrs(t, es, []string{
		`p.toml:3:3: pipeline.descripton: unknown key (did you mean "description"?)`,
		`p.toml:5:1: global.max_inflight: unknown key (did you mean "max_inflight_mb"?)`,
		`p.toml:6:1: global.loglevel: unknown key (did you mean "log_level"?)`,
		`p.toml:7:1: global.metrics: unknown key`,
		`p.toml:10:1: error_handling.backof: unknown key (did you mean "backoff"?)`,
	}, []config.Kind{config.UnknownKey, config.UnknownKey, config.UnknownKey, config.UnknownKey, config.UnknownKey})
	for _, e := range es {
		if e.Stage != -1 || e.StageID != "" {
			t.Errorf("%s: stage %d %q, want none", e, e.Stage, e.StageID)
		}
	}
}

// TestTableBounds: a global key's min/max tags are checked where the value
// is written, with the value as written; values in range, as numbers or
// strings, are kept.
func TestTableBounds(t *testing.T) {
	for _, tt := range []struct {
		line string
		want string // "" when valid
		mb   int
	}{
		{`max_inflight_mb = 0`, `p.toml:2:1: global.max_inflight_mb: want a whole number of MiB from 1 to 1048576, got an integer 0`, 0},
		{`max_inflight_mb = 1048577`, `p.toml:2:1: global.max_inflight_mb: want a whole number of MiB from 1 to 1048576, got an integer 1048577`, 0},
		{`max_inflight_mb = "-3"`, `p.toml:2:1: global.max_inflight_mb: want a whole number of MiB from 1 to 1048576, got "-3"`, 0},
		{`max_inflight_mb = "many"`, `p.toml:2:1: global.max_inflight_mb: want a whole number of MiB from 1 to 1048576, got "many"`, 0},
		{`max_inflight_mb = 1`, ``, 1},
		{`max_inflight_mb = "1048576"`, ``, 1048576},
		{`max_inflight_mb = 8.0`, ``, 8},
	} {
		p, err := config.ParseWithEnv("p.toml", src(append([]string{`[global]`, tt.line}, twoStages...)...), noEnv)
		if tt.want == "" {
			if err != nil || p.Global.MaxInflightMB != tt.mb {
				t.Errorf("%s: max_inflight_mb %d, err %v; want %d", tt.line, p.Global.MaxInflightMB, err, tt.mb)
			}
			continue
		}
		sameLines(t, err, []string{tt.want})
		var ce *config.Error
		if errors.As(err, &ce) && ce.Kind != config.OutOfRange && !strings.Contains(tt.line, "many") {
			t.Errorf("%s: kind %s, want out of range", tt.line, ce.Kind)
		}
	}
	// Unset, the default; a pipeline built in code leaves 0 (the default too).
	p, err := config.ParseWithEnv("p.toml", src(twoStages...), noEnv)
	if err != nil || p.Global.MaxInflightMB != config.DefaultMaxInflightMB {
		t.Errorf("default max_inflight_mb %d (%v)", p.Global.MaxInflightMB, err)
	}
}

// bounded has a bound on a key of every kind that takes one.
type bounded struct {
	Level   int           `key:"level" min:"1" max:"5"`
	Ratio   float64       `key:"ratio" max:"0.5"`
	Wait    time.Duration `key:"wait_ms" unit:"ms" min:"100" why:"shorter waits spin"`
	Period  time.Duration `key:"period_s" unit:"s" max:"60"`
	Delay   time.Duration `key:"delay_seconds" unit:"s" numeric:"true"`
	Retries int           `key:"retries" min:"0"`
}

// TestDecodeBounds: a stage key's min/max tags, with what the key takes,
// why when the tags say, and the value as written, at the key's place.
func TestDecodeBounds(t *testing.T) {
	const at = `p.toml:14:1: stages[2] "target" `
	for _, tt := range []struct {
		line, want string
		kind       config.Kind
	}{
		{`level = 0`, at + `config.level: want a whole number from 1 to 5, got an integer 0`, config.OutOfRange},
		{`level = "6"`, at + `config.level: want a whole number from 1 to 5, got "6"`, config.OutOfRange},
		{`level = "high"`, at + `config.level: want a whole number from 1 to 5, got "high"`, config.BadType},
		{`ratio = 0.75`, at + `config.ratio: want a number <= 0.5, got a float 0.75`, config.OutOfRange},
		{`wait_ms = 99`, at + `config.wait_ms: want a duration >= 100 ms (shorter waits spin), got an integer 99`, config.OutOfRange},
		{`wait_ms = "0.05s"`, at + `config.wait_ms: want a duration >= 100 ms (shorter waits spin), got "0.05s"`, config.OutOfRange},
		{`wait_ms = "soon"`, at + `config.wait_ms: want a duration >= 100 ms (a number of milliseconds, or a string such as "1.5s"), got "soon"`, config.BadType},
		{`wait_ms = -1`, at + `config.wait_ms: want a duration >= 100 ms (a number of milliseconds, or a string such as "1.5s"), got an integer -1`, config.OutOfRange},
		{`period_s = "2m"`, at + `config.period_s: want a duration <= 60 s, got "2m"`, config.OutOfRange},
		{`delay_seconds = "5s"`, at + `config.delay_seconds: want a number of seconds >= 0, got "5s"`, config.BadType},
		{`retries = -1`, at + `config.retries: want a whole number >= 0, got an integer -1`, config.OutOfRange},
	} {
		p, err := config.ParseWithEnv("p.toml", stageDoc(tt.line), noEnv)
		if err != nil {
			t.Fatal(err)
		}
		err = config.DecodeStage(&p.Stages[2], &bounded{})
		sameErrs(t, asErrors(t, err), []string{tt.want}, []config.Kind{tt.kind})
	}
	// The bounds themselves are allowed.
	p, _ := config.ParseWithEnv("p.toml", stageDoc(`level = 5`, `ratio = 0.5`, `wait_ms = "100ms"`, `period_s = 60`, `delay_seconds = "2.5"`, `retries = 0`), noEnv)
	var b bounded
	if err := config.DecodeStage(&p.Stages[2], &b); err != nil {
		t.Fatal(err)
	}
	if b.Level != 5 || b.Ratio != 0.5 || b.Wait != 100*time.Millisecond || b.Period != time.Minute || b.Delay != 2500*time.Millisecond {
		t.Errorf("decoded %+v", b)
	}
	// Describe gives the bounds.
	for _, k := range config.Describe(&bounded{}) {
		if k.Key == "level" && (k.Min != "1" || k.Max != "5" || k.Range() != "1 to 5") ||
			k.Key == "wait_ms" && (k.Range() != ">= 100" || k.Why != "shorter waits spin" || k.Unit != "ms") ||
			k.Key == "ratio" && k.Range() != "<= 0.5" {
			t.Errorf("Describe: %+v", k)
		}
	}
}

func asErrors(t *testing.T, err error) config.Errors {
	t.Helper()
	var es config.Errors
	if !errors.As(err, &es) {
		t.Fatalf("want config.Errors, got %v", err)
	}
	return es
}

// TestBadBoundTag: a bound that is not a number, or on a key that is not a
// number, is a mistake in the program and panics at once, naming the field.
func TestBadBoundTag(t *testing.T) {
	for name, v := range map[string]any{
		"not a number": &struct {
			N int `key:"n" min:"one"`
		}{},
		"on a string": &struct {
			S string `key:"s" max:"3"`
		}{},
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(r.(string), "field ") {
					t.Errorf("%s: recovered %v", name, r)
				}
			}()
			config.Describe(v)
		}()
	}
}

// TestErrorKinds: each sort of problem has its Kind, so that a caller
// branches on the kind rather than on the text.
func TestErrorKinds(t *testing.T) {
	es := parseErrs(t, noEnv,
		`[global]`,                      // 1
		`log_level = "loud"`,            // 2: BadValue
		`plugins = 5`,                   // 3: BadType
		`max_inflight_mb = 0`,           // 4: OutOfRange
		`lvl = 1`,                       // 5: UnknownKey
		`[[stages]]`,                    // 6: Missing (function)
		`id = "a"`,                      // 7
		`inputs = ["nowhere"]`,          // 8: Graph
		`[stages.config]`,               // 9
		`path = "${NOT_SET}"`,           // 10: BadReference
		`[error_handling]`,              // 11
		`max_retries = "${NOT_SET:-x}"`, // 12: BadType
	)
	sameErrs(t, es, []string{
		`p.toml:2:1: global.log_level: unknown value "loud" (want one of debug, info, warn, error)`,
		`p.toml:3:1: global.plugins: want a string or a list of strings, got an integer 5`,
		`p.toml:4:1: global.max_inflight_mb: want a whole number of MiB from 1 to 1048576, got an integer 0`,
		`p.toml:5:1: global.lvl: unknown key`,
		`p.toml:6:1: stages[0] "a" function: missing required key`,
		`p.toml:8:1: stages[0] "a" inputs: no stage has id "nowhere"`,
		`p.toml:10:1: stages[0] "a" config.path: environment variable NOT_SET is not set (write ${NOT_SET:-default} to give a default)`,
		`p.toml:12:1: error_handling.max_retries: want a whole number >= 0, got "x"`,
	}, []config.Kind{config.BadValue, config.BadType, config.OutOfRange, config.UnknownKey, config.Missing, config.Graph, config.BadReference, config.BadType})
	if got := es.Of(config.BadType); len(got) != 2 || got[0].Key != "global.plugins" || got[1].Key != "error_handling.max_retries" {
		t.Errorf("Of(BadType) = %v", got)
	}
	_, err := config.Parse("p.toml", []byte("[global\n"))
	if es := asErrors(t, err); len(es) != 1 || es[0].Kind != config.Syntax {
		t.Errorf("syntax error: %v kind %v", err, es[0].Kind)
	}
	// Kinds have names, for logs.
	if config.OutOfRange.String() != "out of range" || config.Kind(99).String() != "Kind(99)" {
		t.Errorf("names: %s, %s", config.OutOfRange, config.Kind(99))
	}
}

// TestReferenceReportedOnce: a key whose ${VAR} is not set is reported by
// Parse, once: DecodeStage keeps its default and says nothing more about it
// (neither its type or enum nor Validate's complaint about it), while the
// other keys are checked as usual.
func TestReferenceReportedOnce(t *testing.T) {
	p, err := config.ParseWithEnv("p.toml", stageDoc(
		`name = "n"`,              // 14
		`mode = "${MODE}"`,        // 15: would be unknown value ""
		`count = "${COUNT}"`,      // 16: would be want a whole number
		`tags = ["a", "${TAG}"]`,  // 17: an element of a list
		`ratio = "x"`,             // 18: checked as usual
		`wait_ms = "{{run_id}}x"`, // 19: left for decoding, which refuses it
	), noEnv)
	sameErrs(t, asErrors(t, err), []string{
		`p.toml:15:1: stages[2] "target" config.mode: environment variable MODE is not set (write ${MODE:-default} to give a default)`,
		`p.toml:16:1: stages[2] "target" config.count: environment variable COUNT is not set (write ${COUNT:-default} to give a default)`,
		`p.toml:17:14: stages[2] "target" config.tags[1]: environment variable TAG is not set (write ${TAG:-default} to give a default)`,
	}, []config.Kind{config.BadReference, config.BadReference, config.BadReference})
	c := defaultTestConfig()
	err = config.DecodeStage(&p.Stages[2], c)
	sameErrs(t, asErrors(t, err), []string{
		`p.toml:18:1: stages[2] "target" config.ratio: want a number, got "x"`,
		`p.toml:19:1: stages[2] "target" config.wait_ms: want a duration >= 0 (a number of milliseconds, or a string such as "1.5s"), got "{{run_id}}x"`,
	}, []config.Kind{config.BadType, config.BadType})
	if c.Mode != "fast" || c.Count != 10 || strings.Join(c.Tags, ",") != "x" {
		t.Errorf("defaults not kept: %+v", *c)
	}
	// Validate's complaint about a reported key is left out; the others stay.
	p, _ = config.ParseWithEnv("p.toml", stageDoc(`name = "n"`, `mode = "slow"`, `period_s = "${PERIOD}"`, `count = 500`), noEnv)
	err = config.DecodeStage(&p.Stages[2], defaultTestConfig())
	sameLines(t, err, []string{`p.toml:17:1: stages[2] "target" config.count: must be <= 100, got 500`})
}

// TestDeadLetterReferenceReportedOnce: in a dead-letter table, a key whose
// reference was reported counts as written, and is marked for the kafka
// sink's decoding to leave alone.
func TestDeadLetterReferenceReportedOnce(t *testing.T) {
	p, err := config.ParseWithEnv("p.toml", src(with(
		`[error_handling.dead_letter_queue]`, // 9
		`topic = "dlq"`,                      // 10
		`brokers = "${DLQ_BROKERS}"`,         // 11
	)...), noEnv)
	sameLines(t, err, []string{`p.toml:11:1: error_handling.dead_letter_queue.brokers: environment variable DLQ_BROKERS is not set (write ${DLQ_BROKERS:-default} to give a default)`})
	dl := p.ErrorHandling.DeadLetterQueue
	if dl == nil || dl.Topic != "dlq" {
		t.Fatalf("dead letter %+v", dl)
	}
	st := &config.Stage{Index: -1, ID: "dead_letter_queue", Config: dl.Config}
	var sink struct {
		Topic   string   `key:"topic"`
		Brokers []string `key:"brokers"`
	}
	if err := config.DecodeStage(st, &sink); err != nil || sink.Topic != "dlq" {
		t.Errorf("decoding the table: %v (%+v)", err, sink)
	}

	// A file path whose variable is not set: one error, no dead-letter
	// queue, and no "set exactly one of path or topic".
	p, err = config.ParseWithEnv("p.toml", src(with(`[error_handling.dead_letter_queue]`, `path = "${DIR}/d.jsonl"`)...), noEnv)
	sameLines(t, err, []string{`p.toml:10:1: error_handling.dead_letter_queue.path: environment variable DIR is not set (write ${DIR:-default} to give a default)`})
	if p.ErrorHandling.DeadLetterQueue != nil {
		t.Errorf("dead letter %+v", p.ErrorHandling.DeadLetterQueue)
	}
}

// TestDescribeTable documents the top-level tables from their tags.
func TestDescribeTable(t *testing.T) {
	if names := strings.Join(config.TableNames(), ","); names != "pipeline,global,error_handling" {
		t.Errorf("TableNames = %s", names)
	}
	keys, ok := config.DescribeTable("global")
	if !ok {
		t.Fatal("no global")
	}
	found := false
	for _, k := range keys {
		if k.Key == "max_inflight_mb" {
			found = true
			if k.Min != "1" || k.Max != "1048576" || k.Default != "64" || k.Unit != "MiB" || k.Type != "integer (MiB)" {
				t.Errorf("max_inflight_mb: %+v", k)
			}
		}
	}
	if !found {
		t.Errorf("global keys: %+v", keys)
	}
	keys, _ = config.DescribeTable("error_handling")
	if len(keys) != 5 || keys[0].Key != "strategy" || keys[0].Default != "stop" || keys[2].Default != "1" {
		t.Errorf("error_handling keys: %+v", keys)
	}
	if _, ok := config.DescribeTable("stages"); ok {
		t.Error("DescribeTable(stages) is not a table of keys")
	}
}

// TestTableStrings: the tables' enums take any case and an empty value
// (from "${VAR:-}") as the default; a float is not taken as text.
func TestTableStrings(t *testing.T) {
	p, err := config.ParseWithEnv("p.toml", src(append([]string{
		`[pipeline]`, `version = 2`,
		`[global]`, `log_level = "${LEVEL:-}"`, `plugins = "kafka, json"`,
		`[error_handling]`, `strategy = "CONTINUE"`, `backoff = ""`,
	}, twoStages...)...), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if p.Pipeline.Version != "2" || p.Global.LogLevel != "" || strings.Join(p.Global.Plugins, "|") != "kafka|json" ||
		p.ErrorHandling.Strategy != config.Continue || p.ErrorHandling.Backoff != "fixed" {
		t.Errorf("pipeline %+v global %+v error_handling %+v", p.Pipeline, p.Global, p.ErrorHandling)
	}
	_, err = config.ParseWithEnv("p.toml", src(`[pipeline]`, `version = 1.10`), noEnv)
	sameLines(t, err, []string{`p.toml:2:1: pipeline.version: want a string, got a float 1.1`})
}
