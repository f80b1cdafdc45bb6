package config_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-etl/conveyor/config"
)

// endpoint is a sub-table of tableConfig, as kafka's schema_registry is.
type endpoint struct {
	URL      string        `key:"url" doc:"where it is"`
	Password config.Secret `key:"password" secret:"true" doc:"its password"`
	Timeout  time.Duration `key:"timeout_ms" unit:"ms" min:"1" doc:"how long"`
}

func (e *endpoint) Validate() error {
	if strings.HasPrefix(e.URL, "ftp:") {
		return config.Invalid("url", "want http or https, got %q", e.URL)
	}
	return nil
}

type tableConfig struct {
	Name     string   `key:"name"`
	Endpoint endpoint `key:"endpoint" doc:"the endpoint, a table"`
}

func (c *tableConfig) Validate() error {
	if c.Name == "need-url" && c.Endpoint.URL == "" {
		return config.Invalid("endpoint.url", "required with name = need-url")
	}
	return nil
}

func decodeTableConfig(t *testing.T, env func(string) (string, bool), lines ...string) (*tableConfig, error) {
	t.Helper()
	p, err := config.ParseWithEnv("p.toml", stageDoc(lines...), env)
	if err != nil {
		return nil, err
	}
	c := &tableConfig{Endpoint: endpoint{Timeout: time.Second}}
	return c, config.DecodeStage(&p.Stages[2], c)
}

// A struct field with a key tag is a sub-table: written inline or as a
// [stages.config.key] table, it decodes the same, with its defaults kept
// and references expanded.
func TestDecodeSubTable(t *testing.T) {
	env := envOf(map[string]string{"PW": "Quokka-91c2-NeverShow"})
	for name, lines := range map[string][]string{
		"inline": {`name = "n"`, `endpoint = { url = "http://e", password = "${PW}" }`},
		"table":  {`name = "n"`, `[stages.config.endpoint]`, `url = "http://e"`, `password = "${PW}"`},
	} {
		c, err := decodeTableConfig(t, env, lines...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if c.Endpoint.URL != "http://e" || string(c.Endpoint.Password) != "Quokka-91c2-NeverShow" || c.Endpoint.Timeout != time.Second {
			t.Errorf("%s: decoded %+v", name, c.Endpoint)
		}
	}
}

// A sub-table's mistakes are reported at the sub-key, named "table.key",
// with a did-you-mean for an unknown one, and its secret is never shown.
func TestDecodeSubTableErrors(t *testing.T) {
	env := envOf(map[string]string{"PW": "Quokka-91c2-NeverShow"})
	for _, tt := range []struct {
		name  string
		lines []string
		want  []string
	}{
		{"unknown inline", []string{`endpoint = { url = "http://e", pasword = "${PW}" }`},
			[]string{`p.toml:14:32: stages[2] "target" config.endpoint.pasword: unknown key (did you mean "password"?)`}},
		{"unknown header", []string{`[stages.config.endpoint]`, `ulr = "http://e"`},
			[]string{`p.toml:15:1: stages[2] "target" config.endpoint.ulr: unknown key (did you mean "url"?)`}},
		{"bad type", []string{`endpoint = { timeout_ms = "soon" }`},
			[]string{`p.toml:14:14: stages[2] "target" config.endpoint.timeout_ms: want a duration >= 1 ms (a number of milliseconds, or a string such as "1.5s"), got "soon"`}},
		{"secret of the wrong type", []string{`endpoint = { password = ["${PW}"] }`},
			[]string{`p.toml:14:14: stages[2] "target" config.endpoint.password: want a string, got a value (hidden: secret)`}},
		{"not a table", []string{`endpoint = "http://e"`},
			[]string{`p.toml:14:1: stages[2] "target" config.endpoint: must be a table (endpoint = { ... }), got a string`}},
		{"sub-table's Validate", []string{`endpoint = { url = "ftp://e" }`},
			[]string{`p.toml:14:14: stages[2] "target" config.endpoint.url: want http or https, got "ftp://e"`}},
		{"config's Validate on a sub-key", []string{`name = "need-url"`, `endpoint = { password = "${PW}" }`},
			[]string{`p.toml:15:1: stages[2] "target" config.endpoint.url: required with name = need-url`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeTableConfig(t, env, tt.lines...)
			sameLines(t, err, tt.want)
			if err != nil && strings.Contains(err.Error(), "Quokka") {
				t.Errorf("the secret shows: %v", err)
			}
			var ce *config.Error
			if !errors.As(err, &ce) || ce.StageID != "target" {
				t.Errorf("error fields: %+v", ce)
			}
		})
	}
}

// A reference inside a sub-table that cannot be expanded is reported
// once, where it is written; the sub-table's other keys still decode.
func TestDecodeSubTableReference(t *testing.T) {
	p, err := config.ParseWithEnv("p.toml", stageDoc(`endpoint = { url = "http://e", password = "${NOPE}" }`), noEnv)
	sameLines(t, err, []string{`p.toml:14:32: stages[2] "target" config.endpoint.password: environment variable NOPE is not set (write ${NOPE:-default} to give a default)`})
	if p == nil {
		t.Fatal("Parse returned no pipeline with its errors")
	}
	c := &tableConfig{}
	if err := config.DecodeStage(&p.Stages[2], c); err != nil || c.Endpoint.URL != "http://e" {
		t.Errorf("decode: %v, %+v", err, c.Endpoint)
	}
}

// Describe lists a sub-table, then its keys as "table.key" with their
// defaults, the secret's hidden.
func TestDescribeSubTable(t *testing.T) {
	var got []string
	for _, k := range config.Describe(&tableConfig{Endpoint: endpoint{URL: "http://d", Password: "pw", Timeout: time.Second}}) {
		got = append(got, fmt.Sprintf("%s|%s|%s|%v|%s", k.Key, k.Type, k.Default, k.Secret, k.Doc))
	}
	want := []string{
		"name|string||false|",
		"endpoint|table||false|the endpoint, a table",
		"endpoint.url|string|http://d|false|where it is",
		"endpoint.password|string||true|its password",
		"endpoint.timeout_ms|duration (ms)|1000|false|how long",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Describe:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
