package config_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-etl/conveyor/config"
)

// testConfig has one field of every kind DecodeStage supports.
type testConfig struct {
	Name    string        `key:"name" required:"true" doc:"the name"`
	Count   int           `key:"count" doc:"how many"`
	Big     int64         `key:"big"`
	Small   int8          `key:"small"`
	Ratio   float64       `key:"ratio"`
	Enabled bool          `key:"enabled"`
	Wait    time.Duration `key:"wait_ms" unit:"ms"`
	Period  time.Duration `key:"period_s" unit:"s"`
	Every   time.Duration `key:"every"`
	Tags    []string      `key:"tags"`
	Mode    string        `key:"mode" enum:"fast,slow"`
	Token   string        `key:"token" secret:"true"`
	PIN     int           `key:"pin" secret:"true"`
	Switch  bool          `key:"switch" secret:"true"`
	Extra   any           `key:"extra"`
	Ignored string        // no key tag: not a config key
}

func defaultTestConfig() *testConfig {
	return &testConfig{Count: 10, Wait: 250 * time.Millisecond, Mode: "fast", Tags: []string{"x"}}
}

// Validate reports problems across keys, as components do.
func (c *testConfig) Validate() error {
	var errs []error
	if c.Count > 100 {
		errs = append(errs, config.Invalid("count", "must be <= 100, got %d", c.Count))
	}
	if c.Mode == "slow" && c.Period == 0 {
		errs = append(errs, config.Invalid("period_s", "required with mode = slow"))
	}
	if c.Name == "boom" {
		errs = append(errs, errors.New("name boom is reserved"))
	}
	return errors.Join(errs...)
}

// stageDoc is a pipeline of three stages; the third ("target", index 2)
// has [stages.config] on line 13 and the given config lines from line 14.
func stageDoc(config ...string) []byte {
	return src(append([]string{
		`[[stages]]`,                // 1
		`id = "source"`,             // 2
		`function = "json.read"`,    // 3
		`[stages.config]`,           // 4
		`path = "in.json"`,          // 5
		`[[stages]]`,                // 6
		`id = "middle"`,             // 7
		`function = "filter.apply"`, // 8
		`inputs = ["source"]`,       // 9
		`[[stages]]`,                // 10
		`id = "target"`,             // 11
		`function = "custom"`,       // 12
		`[stages.config]`,           // 13
	}, config...)...)
}

func decode(t *testing.T, env func(string) (string, bool), lines ...string) (*testConfig, error) {
	t.Helper()
	p, err := config.ParseWithEnv("p.toml", stageDoc(lines...), env)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	c := defaultTestConfig()
	return c, config.DecodeStage(&p.Stages[2], c)
}

func TestDecodeValues(t *testing.T) {
	tests := []struct {
		line  string
		check func(*testConfig) bool
	}{
		// Numbers written natively and as strings.
		{`count = 42`, func(c *testConfig) bool { return c.Count == 42 }},
		{`count = "42"`, func(c *testConfig) bool { return c.Count == 42 }},
		{`count = " 42 "`, func(c *testConfig) bool { return c.Count == 42 }},
		{`count = 42.0`, func(c *testConfig) bool { return c.Count == 42 }},
		{`big = "1_000_000"`, func(c *testConfig) bool { return c.Big == 1000000 }},
		{`big = 1_000`, func(c *testConfig) bool { return c.Big == 1000 }},
		{`small = -128`, func(c *testConfig) bool { return c.Small == -128 }},
		{`ratio = 0.5`, func(c *testConfig) bool { return c.Ratio == 0.5 }},
		{`ratio = 2`, func(c *testConfig) bool { return c.Ratio == 2 }},
		{`ratio = "2.5"`, func(c *testConfig) bool { return c.Ratio == 2.5 }},
		// Durations: bare numbers in the field's unit, or Go duration text.
		{`wait_ms = 1500`, func(c *testConfig) bool { return c.Wait == 1500*time.Millisecond }},
		{`wait_ms = "1500"`, func(c *testConfig) bool { return c.Wait == 1500*time.Millisecond }},
		{`wait_ms = 2.5`, func(c *testConfig) bool { return c.Wait == 2500*time.Microsecond }},
		{`wait_ms = "1.5s"`, func(c *testConfig) bool { return c.Wait == 1500*time.Millisecond }},
		{`wait_ms = "2m"`, func(c *testConfig) bool { return c.Wait == 2*time.Minute }},
		{`wait_ms = 0`, func(c *testConfig) bool { return c.Wait == 0 }},
		{`period_s = 3`, func(c *testConfig) bool { return c.Period == 3*time.Second }},
		{`period_s = "3"`, func(c *testConfig) bool { return c.Period == 3*time.Second }},
		{`every = 7`, func(c *testConfig) bool { return c.Every == 7*time.Millisecond }}, // no unit: ms
		// Booleans.
		{`enabled = true`, func(c *testConfig) bool { return c.Enabled }},
		{`enabled = "true"`, func(c *testConfig) bool { return c.Enabled }},
		{`enabled = "Yes"`, func(c *testConfig) bool { return c.Enabled }},
		{`enabled = "1"`, func(c *testConfig) bool { return c.Enabled }},
		{`enabled = "off"`, func(c *testConfig) bool { return !c.Enabled }},
		// Lists of strings: an array or a comma-separated string.
		{`tags = ["a", "b"]`, func(c *testConfig) bool { return strings.Join(c.Tags, "|") == "a|b" }},
		{`tags = "a, b,,c "`, func(c *testConfig) bool { return strings.Join(c.Tags, "|") == "a|b|c" }},
		{`tags = []`, func(c *testConfig) bool { return c.Tags != nil && len(c.Tags) == 0 }},
		{`tags = ""`, func(c *testConfig) bool { return len(c.Tags) == 0 }},
		// Strings: scalars are taken as their text when there is no enum.
		{`token = 12345`, func(c *testConfig) bool { return c.Token == "12345" }},
		{`mode = "slow"`, func(c *testConfig) bool { return c.Mode == "slow" && c.Period == time.Millisecond }},
		// any keeps what TOML gave.
		{`extra = [1, "a"]`, func(c *testConfig) bool { v, ok := c.Extra.([]any); return ok && v[0] == int64(1) && v[1] == "a" }},
		{`extra = 1.5`, func(c *testConfig) bool { return c.Extra == 1.5 }},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			lines := []string{`name = "n"`, tt.line}
			if strings.HasPrefix(tt.line, "mode") {
				lines = append(lines, `period_s = 0.001`)
			}
			c, err := decode(t, noEnv, lines...)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Errorf("decoded %+v", *c)
			}
		})
	}
	// Defaults stay when keys are absent.
	c, err := decode(t, noEnv, `name = "n"`)
	if err != nil {
		t.Fatal(err)
	}
	if c.Count != 10 || c.Wait != 250*time.Millisecond || c.Mode != "fast" || c.Tags[0] != "x" || c.Extra != nil {
		t.Errorf("defaults lost: %+v", *c)
	}
}

func TestDecodeErrors(t *testing.T) {
	const at = `p.toml:15:1: stages[2] "target" ` // the line after name = "n"
	tests := []struct {
		line string
		want string // "" when want is the stage-level error below
	}{
		{`count = "ten"`, at + `config.count: want a whole number, got "ten"`},
		{`count = 2.5`, at + `config.count: want a whole number, got a float 2.5`},
		{`count = true`, at + `config.count: want a whole number, got a boolean true`},
		{`count = [1]`, at + `config.count: want a whole number, got an array`},
		{`small = 300`, at + `config.small: 300 is out of range`},
		{`ratio = "half"`, at + `config.ratio: want a number, got "half"`},
		{`enabled = "maybe"`, at + `config.enabled: want true or false, got "maybe"`},
		{`enabled = 2`, at + `config.enabled: want true or false, got an integer 2`},
		{`wait_ms = -5`, at + `config.wait_ms: want a duration >= 0 (a number of milliseconds, or a string such as "1.5s"), got an integer -5`},
		{`wait_ms = "-5s"`, at + `config.wait_ms: want a duration >= 0 (a number of milliseconds, or a string such as "1.5s"), got "-5s"`},
		{`wait_ms = "soon"`, at + `config.wait_ms: want a duration >= 0 (a number of milliseconds, or a string such as "1.5s"), got "soon"`},
		{`period_s = false`, at + `config.period_s: want a duration >= 0 (a number of seconds, or a string such as "1.5s"), got a boolean false`},
		{`tags = [1, "a"]`, `p.toml:15:9: stages[2] "target" config.tags: want a list of strings, element 0 is an integer 1`}, // at the element
		{`tags = 5`, at + `config.tags: want a string or a list of strings, got an integer 5`},
		{`mode = "fats"`, at + `config.mode: unknown value "fats" (want one of fast, slow) (did you mean "fast"?)`},
		{`mode = "turbo"`, at + `config.mode: unknown value "turbo" (want one of fast, slow)`},
		{`mode = 1`, at + `config.mode: want a string, got an integer 1`},
		{`name = ["a"]`, at + `config.name: want a string, got an array`},
		{`cuont = 3`, at + `config.cuont: unknown key (did you mean "count"?)`},
		{`group-id = "g"`, at + `config.group-id: unknown key`},
		{`Ignored = "x"`, at + `config.Ignored: unknown key`},
		// Secrets: the message says what is wanted but never shows the value.
		{`token = ["hunter2"]`, at + `config.token: want a string, got a value (hidden: secret)`},
		{`token = { user = "u", password = "hunter2" }`, at + `config.token: want a string, got a value (hidden: secret)`},
		{`pin = "hunter2"`, at + `config.pin: want a whole number, got a value (hidden: secret)`},
		{`switch = "hunter2"`, at + `config.switch: want true or false, got a value (hidden: secret)`},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			lines := []string{`name = "n"`, tt.line}
			if strings.HasPrefix(tt.line, "name") {
				lines = []string{`x_pad = 0`, tt.line}
			}
			_, err := decode(t, noEnv, lines...)
			got := errLines(err)
			if strings.HasPrefix(tt.line, "name") { // x_pad is unknown too
				if len(got) != 2 {
					t.Fatalf("errors: %q", got)
				}
				got = got[1:]
			}
			if len(got) != 1 || got[0] != tt.want {
				t.Errorf("errors:\n  got:  %q\n  want: %q", got, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("secret value shown: %v", err)
			}
			var ce *config.Error
			if !errors.As(err, &ce) || ce.Stage != 2 || ce.StageID != "target" || !strings.HasPrefix(ce.Key, "config.") {
				t.Errorf("error fields: %+v", ce)
			}
		})
	}
}

func TestDecodeSecretFromEnv(t *testing.T) {
	env := envOf(map[string]string{"TOKEN": "Zebra-Secret-77"})
	c, err := decode(t, env, `name = "n"`, `token = "${TOKEN}"`)
	if err != nil || c.Token != "Zebra-Secret-77" {
		t.Fatalf("token %q, err %v", c.Token, err)
	}
	// A secret that is not a number, from the environment: hidden too.
	env = envOf(map[string]string{"PIN": "Zebra-Secret-77"})
	_, err = decode(t, env, `name = "n"`, `pin = "${PIN}"`)
	if err == nil || strings.Contains(err.Error(), "Zebra") {
		t.Errorf("err = %v", err)
	}
	// Describe documents a secret without its default.
	for _, k := range config.Describe(&testConfig{Token: "Zebra-Secret-77"}) {
		if k.Key == "token" && (!k.Secret || k.Default != "") {
			t.Errorf("Describe(token) = %+v", k)
		}
	}
}

func TestDecodeMissingAndUnknown(t *testing.T) {
	_, err := decode(t, noEnv, `nmae = "n"`, `count = 1`, `colour = "red"`)
	sameLines(t, err, []string{
		`p.toml:10:1: stages[2] "target" config.name: missing required key (the name)`,
		`p.toml:14:1: stages[2] "target" config.nmae: unknown key (did you mean "name"?)`,
		`p.toml:16:1: stages[2] "target" config.colour: unknown key`,
	})
}

// TestDecodeValidate checks that errors from Validate land on the line of
// the key they name, or on the stage when that key is absent, and that
// Validate does not run when decoding failed.
func TestDecodeValidate(t *testing.T) {
	_, err := decode(t, noEnv,
		`name = "n"`,    // 14
		`mode = "slow"`, // 15
		``,              // 16
		`count = 500`,   // 17
	)
	sameLines(t, err, []string{
		`p.toml:10:1: stages[2] "target" config.period_s: required with mode = slow`,
		`p.toml:17:1: stages[2] "target" config.count: must be <= 100, got 500`,
	})

	_, err = decode(t, noEnv, `name = "boom"`)
	sameLines(t, err, []string{`p.toml:10:1: stages[2] "target" config: name boom is reserved`})

	// A type error: Validate's complaint about count > 100 is not added.
	_, err = decode(t, noEnv, `name = "n"`, `count = 500`, `ratio = "x"`)
	sameLines(t, err, []string{`p.toml:16:1: stages[2] "target" config.ratio: want a number, got "x"`})
}

// TestDecodeInlineTable checks positions of keys in an inline config table
// of a later stage.
func TestDecodeInlineTable(t *testing.T) {
	p, err := config.ParseWithEnv("p.toml", src(
		`[[stages]]`,
		`id = "a"`,
		`function = "json.read"`,
		`[[stages]]`,
		`id = "b"`,
		`function = "json.write"`,
		`inputs = ["a"]`,
		`config = { name = "n", count = "many", mode = "fats" }`,
	), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	err = config.DecodeStage(&p.Stages[1], defaultTestConfig())
	sameLines(t, err, []string{
		`p.toml:8:24: stages[1] "b" config.count: want a whole number, got "many"`,
		`p.toml:8:40: stages[1] "b" config.mode: unknown value "fats" (want one of fast, slow) (did you mean "fast"?)`,
	})
}

// TestDecodeBuiltInCode checks a stage built in code: no positions, and the
// message still names stage and key.
func TestDecodeBuiltInCode(t *testing.T) {
	st := &config.Stage{Index: 0, ID: "s", Config: map[string]config.Value{"count": {V: "x"}, "name": {V: "n"}}}
	err := config.DecodeStage(st, defaultTestConfig())
	sameLines(t, err, []string{`pipeline: stages[0] "s" config.count: want a whole number, got "x"`})
}

func ExampleDecodeStage() {
	p, _ := config.Parse("p.toml", []byte(`
[[stages]]
id = "consume"
function = "kafka"
[stages.config]
max_messages = "ten"
`))
	cfg := &struct {
		MaxMessages int64 `key:"max_messages"`
	}{MaxMessages: 1000}
	fmt.Println(config.DecodeStage(&p.Stages[0], cfg))
	// Output: p.toml:6:1: stages[0] "consume" config.max_messages: want a whole number, got "ten"
}
