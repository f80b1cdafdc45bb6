package flow_test

import (
	"context"
	"strconv"
	"time"

	"github.com/conveyor-etl/conveyor/plugin"
)

// memberConfig is the config of the test-only "test.member" operator.
type memberConfig struct {
	Member string `key:"member" required:"true" doc:"name of this process"`
}

// testRegistry is the default registry plus "test.member", which appends
// "_member" and "_at" (Unix nanoseconds when the batch was processed) to
// every record, so a test can tell which process handled which partition
// when.
func testRegistry() *plugin.Registry {
	reg := plugin.Default().Clone()
	err := reg.Register(&plugin.Spec{Name: "test.member", Plugin: "test", Operator: plugin.NewFactory(
		func() *memberConfig { return &memberConfig{} },
		func(_ context.Context, c *memberConfig, _ plugin.Env) (plugin.Operator, error) {
			return plugin.OperatorFunc(func(in, out []plugin.Record, _ func(int, error)) []plugin.Record {
				tag := []byte(`,"_member":` + strconv.Quote(c.Member) + `,"_at":` + strconv.FormatInt(time.Now().UnixNano(), 10) + `}`)
				for _, r := range in {
					v := append(append(make([]byte, 0, len(r.Value)+len(tag)), r.Value[:len(r.Value)-1]...), tag...)
					out = append(out, plugin.Record{Value: v, Offset: r.Offset})
				}
				return out
			}), nil
		})})
	if err != nil {
		panic(err)
	}
	return reg
}
