package plugin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/plugin"
)

// UpperConfig is the config of the "upper.field" operator: one typed
// struct, its keys named by tags, its defaults made by a function.
type UpperConfig struct {
	Field string `key:"field" required:"true" doc:"the string field to upper-case"`
}

// upper upper-cases one string field of each record. A record without the
// field passes unchanged; one whose field is not a string fails, marked
// permanent: trying it again cannot help.
func upper(c *UpperConfig) plugin.OperatorFunc {
	return func(in, out []plugin.Record, fail func(int, error)) []plugin.Record {
		for i, r := range in {
			var v map[string]any
			if err := json.Unmarshal(r.Value, &v); err != nil {
				fail(i, plugin.Permanent(err))
				continue
			}
			if f, ok := v[c.Field]; ok {
				s, isString := f.(string)
				if !isString {
					fail(i, fmt.Errorf("field %q is %v, not a string: %w", c.Field, f, plugin.ErrPermanent))
					continue
				}
				v[c.Field] = strings.ToUpper(s)
			}
			b, err := json.Marshal(v) // a new value: the input's bytes may be shared
			if err != nil {
				fail(i, plugin.Permanent(err))
				continue
			}
			out = append(out, plugin.Record{Value: b, Offset: r.Offset})
		}
		return out
	}
}

// A program that adds its own operator clones the default registry (which
// holds the built-in functions), registers the operator in the clone, and
// runs pipelines with flow.WithRegistry. The default registry, and every
// other program's pipelines, stay as they were.
func Example() {
	reg := plugin.Default().Clone()
	err := reg.Register(&plugin.Spec{
		Name: "upper.field", Plugin: "upper", Summary: "upper-case a string field",
		Operator: plugin.NewFactory(func() *UpperConfig { return &UpperConfig{} },
			func(_ context.Context, c *UpperConfig, _ plugin.Env) (plugin.Operator, error) { return upper(c), nil }),
	})
	if err != nil {
		panic(err)
	}

	dir, err := os.MkdirTemp("", "conveyor-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	input := filepath.Join(dir, "events.jsonl")
	events := `{"event":"purchase","currency":"eur","amount":160.96}
{"event":"login","currency":"eur","amount":0}
{"event":"purchase","currency":"usd","amount":12.5}
`
	if err := os.WriteFile(input, []byte(events), 0o600); err != nil {
		panic(err)
	}

	// json.read -> filter.apply (built in) -> upper.field (ours) -> stdout.write
	pipeline := fmt.Sprintf(`
[[stages]]
id = "events"
function = "json.read"
[stages.config]
path = %q

[[stages]]
id = "purchases"
function = "filter.apply"
inputs = ["events"]
[stages.config]
column = "event"
operator = "=="
value = "purchase"

[[stages]]
id = "upper"
function = "upper.field"
inputs = ["purchases"]
[stages.config]
field = "currency"

[[stages]]
id = "print"
function = "stdout.write"
inputs = ["upper"]
`, input)
	cfg, err := config.Parse("example.toml", []byte(pipeline))
	if err != nil {
		panic(err)
	}
	sum, err := flow.Execute(context.Background(), cfg, flow.WithRegistry(reg))
	if err != nil {
		panic(err)
	}
	fmt.Printf("in=%d filtered=%d out=%d\n", sum.In, sum.Filtered, sum.Out)
	_, inDefault := plugin.Default().Lookup("upper.field")
	fmt.Println("upper.field in the default registry:", inDefault)
	// Output:
	// {"amount":160.96,"currency":"EUR","event":"purchase"}
	// {"amount":12.5,"currency":"USD","event":"purchase"}
	// in=3 filtered=1 out=2
	// upper.field in the default registry: false
}
