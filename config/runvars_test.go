package config_test

import (
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/conveyor-etl/conveyor/config"
)

// A stage config key may hold {{run_id}} and {{date}}: loading leaves them
// as written, for the function to fill in when the run starts, and still
// expands the other references around them.
func TestRunVarsLeftForRunTime(t *testing.T) {
	p, err := config.ParseWithEnv("p.toml", interpDoc(`"out/{{date}}/{{ run_id }}-{{env}}-${USER}.json"`), envOf(map[string]string{"USER": "etl"}))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.Stages[1].Config["value"].V, "out/{{date}}/{{ run_id }}-prod-etl.json"; got != want {
		t.Errorf("value = %q, want %q", got, want)
	}
}

// Outside a stage's config, as a variable's name, or in a key that does not
// take them, they are errors naming file, line, stage and key.
func TestRunVarsMisplaced(t *testing.T) {
	_, err := config.ParseWithEnv("p.toml", src(
		`[pipeline]`,                               // 1
		`name = "etl-{{date}}"`,                    // 2
		`[global.variables]`,                       // 3
		`run_id = "mine"`,                          // 4
		`[[stages]]`,                               // 5
		`id = "read-{{run_id}}"`,                   // 6
		`function = "json.read"`,                   // 7
		`[error_handling]`,                         // 8
		`dead_letter_queue = "dlq-{{date}}.jsonl"`, // 9
	), noEnv)
	const why = " is filled in when a run starts, and only by keys that take it (such as json.write's path): here it would stay as written"
	sameLines(t, err, []string{
		`p.toml:2:1: pipeline.name: {{date}}` + why,
		`p.toml:4:1: global.variables.run_id: run_id is reserved: {{run_id}} is filled in when a run starts`,
		`p.toml:6:1: stages[0] id: {{run_id}}` + why,
		`p.toml:9:1: error_handling.dead_letter_queue: {{date}}` + why,
	})

	type cfg struct {
		Path  string `key:"path" runvars:"true"`
		Topic string `key:"topic"`
	}
	p, err := config.ParseWithEnv("p.toml", stageDoc(`path = "{{date}}.json"`, `topic = "t-{{ date }}"`), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	var c cfg
	sameLines(t, config.DecodeStage(&p.Stages[2], &c), []string{`p.toml:15:1: stages[2] "target" config.topic: {{date}}` + why})
	if c.Path != "{{date}}.json" {
		t.Errorf("path = %q, want it as written", c.Path)
	}
}

func TestExpandRunVars(t *testing.T) {
	// 23:30 on the 24th in UTC-5 is the 25th in UTC.
	now := time.Date(2026, 1, 24, 23, 30, 0, 0, time.FixedZone("EST", -5*3600))
	for in, want := range map[string]string{
		"out/{{date}}/events-{{run_id}}.json": "out/2026-01-25/events-RID.json",
		"{{ date }}{{date}}":                  "2026-01-252026-01-25",
		"plain {{other}} {x} {{":              "plain {{other}} {x} {{",
	} {
		if got := config.ExpandRunVars(in, "RID", now); got != want {
			t.Errorf("ExpandRunVars(%q) = %q, want %q", in, got, want)
		}
	}
}

// Run ids name the start time in UTC, sort by it, and differ within one
// millisecond.
func TestNewRunID(t *testing.T) {
	t0 := time.Date(2026, 1, 25, 12, 0, 3, 123_456_789, time.FixedZone("X", 3600))
	id := config.NewRunID(t0)
	if !regexp.MustCompile(`^20260125T110003\.123Z-[0-9a-f]{6}$`).MatchString(id) {
		t.Errorf("NewRunID = %q", id)
	}
	var ids []string
	for i := range 50 {
		ids = append(ids, config.NewRunID(t0.Add(time.Duration(i)*997*time.Millisecond)))
	}
	if !slices.IsSorted(ids) {
		t.Errorf("ids in start order do not sort: %q", ids)
	}
	if config.NewRunID(t0) == id && config.NewRunID(t0) == id {
		t.Errorf("three runs in the same millisecond got the same id %q", id)
	}
}
