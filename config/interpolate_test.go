package config_test

import (
	"testing"
	"time"

	"github.com/conveyor-etl/conveyor/config"
)

// interpDoc is a pipeline whose stage "sink" (index 1) has config.value =
// VALUE on line 13, with [global.variables] env = "prod", topic_prefix =
// "app" (the latter built from ${PREFIX:-app}).
func interpDoc(value string) []byte {
	return src(
		`[global]`,                        // 1
		`[global.variables]`,              // 2
		`env = "prod"`,                    // 3
		`topic_prefix = "${PREFIX:-app}"`, // 4
		`[[stages]]`,                      // 5
		`id = "source"`,                   // 6
		`function = "json.read"`,          // 7
		`inputs = []`,                     // 8
		`[[stages]]`,                      // 9
		`id = "sink"`,                     // 10
		`function = "json.write"`,         // 11
		`inputs = ["source"]`,             // 12
		`config.value = `+value,           // 13
	)
}

func TestInterpolate(t *testing.T) {
	env := envOf(map[string]string{"BROKERS": "k1:9092,k2:9092", "EMPTY": "", "USER": "etl", "PREFIX": "svc"})
	tests := []struct {
		name  string
		value string // TOML
		want  any
		err   string // the whole error, "" for none
	}{
		{"no references", `"plain text"`, "plain text", ""},
		{"env set", `"${BROKERS}"`, "k1:9092,k2:9092", ""},
		{"env inside text", `"user=${USER};"`, "user=etl;", ""},
		{"env set, default ignored", `"${USER:-nobody}"`, "etl", ""},
		{"env unset, default", `"${NOPE:-localhost:9092}"`, "localhost:9092", ""},
		{"env unset, empty default", `"x${NOPE:-}y"`, "xy", ""},
		{"env set empty, default used", `"${EMPTY:-fallback}"`, "fallback", ""},
		{"env set empty, no default", `"[${EMPTY}]"`, "[]", ""},
		{"env unset",
			`"${NOPE}"`, "",
			`p.toml:13:1: stages[1] "sink" config.value: environment variable NOPE is not set (write ${NOPE:-default} to give a default)`},
		{"empty env name",
			`"${:-x}"`, "",
			`p.toml:13:1: stages[1] "sink" config.value: empty environment variable name in ${}`},
		{"unclosed ${",
			`"pa${ss"`, "",
			`p.toml:13:1: stages[1] "sink" config.value: unclosed ${ (write $$ for a literal $)`},
		{"variable", `"{{env}}.events"`, "prod.events", ""},
		{"variable with spaces", `"{{ env }}"`, "prod", ""},
		{"variable from env with default", `"{{topic_prefix}}-{{env}}"`, "svc-prod", ""},
		{"unknown variable, did-you-mean",
			`"{{evn}}.events"`, "",
			`p.toml:13:1: stages[1] "sink" config.value: unknown variable {{evn}}: define it in [global.variables] (did you mean "env"?)`},
		{"unknown variable",
			`"{{region}}"`, "",
			`p.toml:13:1: stages[1] "sink" config.value: unknown variable {{region}}: define it in [global.variables]`},
		{"unclosed {{",
			`"{{env"`, "",
			`p.toml:13:1: stages[1] "sink" config.value: unclosed {{ (a variable is written {{name}})`},
		{"$$ escapes $", `"cost: $$5"`, "cost: $5", ""},
		{"$$ escapes a reference", `"$${BROKERS}"`, "${BROKERS}", ""},
		{"$$$ then reference", `"$$${USER}"`, "$etl", ""},
		{"lone $ kept", `"a$b $"`, "a$b $", ""},
		{"single braces kept", `"{env}"`, "{env}", ""},
		{"literal string expanded too", `'${USER}'`, "etl", ""},
		{"in an array", `["${USER}", "{{env}}", 3]`, []any{"etl", "prod", int64(3)}, ""},
		{"error in an array names the element",
			`["ok", "${NOPE}"]`, nil,
			`p.toml:13:23: stages[1] "sink" config.value[1]: environment variable NOPE is not set (write ${NOPE:-default} to give a default)`},
		{"in an inline table", `{ a = "${USER}" }`, map[string]any{"a": "etl"}, ""},
		{"non-strings untouched", `42`, int64(42), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := config.ParseWithEnv("p.toml", interpDoc(tt.value), env)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error:\n  got:  %v\n  want: %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := p.Stages[1].Config["value"].V
			if !equalValue(got, tt.want) {
				t.Errorf("value = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func equalValue(a, b any) bool {
	switch x := a.(type) {
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalValue(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k := range x {
			if !equalValue(x[k], y[k]) {
				return false
			}
		}
		return true
	}
	return a == b
}

// TestInterpolateEverywhere checks that references are expanded in every
// part of a pipeline, not only in stage configs, and that the values typed
// as numbers are read after expansion.
func TestInterpolateEverywhere(t *testing.T) {
	env := envOf(map[string]string{"RETRIES": "7", "DELAY": "0.5", "LEVEL": "debug", "DLQ_DIR": "/var/dlq", "V": "2.1"})
	p, err := config.ParseWithEnv("p.toml", src(
		`[pipeline]`,
		`name = "etl-{{env}}"`,
		`version = "${V}"`,
		`[global]`,
		`log_level = "${LEVEL}"`,
		`plugins = ["{{plugin}}"]`,
		`[global.variables]`,
		`env = "prod"`,
		`plugin = "json"`,
		`literal = "{{env}}"`, // variables are not expanded inside variables
		`[[stages]]`,
		`id = "read-{{env}}"`,
		`function = "json.read"`,
		`inputs = []`,
		`[[stages]]`,
		`id = "write"`,
		`function = "json.write"`,
		`inputs = ["read-{{env}}"]`,
		`config.path = "{{literal}}"`,
		`[error_handling]`,
		`strategy = "retry"`,
		`max_retries = "${RETRIES}"`,
		`retry_delay_seconds = "${DELAY}"`,
		`dead_letter_queue = "${DLQ_DIR}/{{env}}.jsonl"`,
	), env)
	if err != nil {
		t.Fatal(err)
	}
	eh := p.ErrorHandling
	switch {
	case p.Pipeline.Name != "etl-prod", p.Pipeline.Version != "2.1":
		t.Errorf("meta = %+v", p.Pipeline)
	case p.Global.LogLevel != "debug", len(p.Global.Plugins) != 1 || p.Global.Plugins[0] != "json":
		t.Errorf("global = %+v", p.Global)
	case p.Stages[0].ID != "read-prod", p.Stages[1].Inputs[0] != "read-prod":
		t.Errorf("stages = %+v", p.Stages)
	case p.Stages[1].Config["path"].V != "{{env}}":
		t.Errorf("path = %v", p.Stages[1].Config["path"].V)
	case eh.MaxRetries != 7, eh.RetryDelay != 500*time.Millisecond, eh.DeadLetterQueue == nil || eh.DeadLetterQueue.Path != "/var/dlq/prod.jsonl":
		t.Errorf("error_handling = %+v", eh)
	}
}

func TestInterpolateErrorsOutsideStages(t *testing.T) {
	p, err := config.ParseWithEnv("p.toml", src(
		`[pipeline]`,                 // 1
		`name = "{{nme}}"`,           // 2
		`[global.variables]`,         // 3
		`name = "${APP_NAME}"`,       // 4
		`other = "{{name}}"`,         // 5: stays literal, no error
		`[[stages]]`,                 // 6
		`id = "{{ghost}}"`,           // 7
		`function = "json.read"`,     // 8
		`[error_handling]`,           // 9
		`max_retries = "${RETRIES}"`, // 10
	), noEnv)
	sameLines(t, err, []string{
		`p.toml:2:1: pipeline.name: unknown variable {{nme}}: define it in [global.variables] (did you mean "name"?)`,
		`p.toml:4:1: global.variables.name: environment variable APP_NAME is not set (write ${APP_NAME:-default} to give a default)`,
		`p.toml:7:1: stages[0] id: unknown variable {{ghost}}: define it in [global.variables]`,
		`p.toml:10:1: error_handling.max_retries: environment variable RETRIES is not set (write ${RETRIES:-default} to give a default)`,
	})
	if p == nil || p.Global.Variables["other"] != "{{name}}" {
		t.Errorf("variables = %v", p.Global.Variables)
	}
}
