package gochannel_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/plugin"
)

// Config is the config of the "gochannel" function.
type Config struct {
	Topic string `key:"topic" required:"true" doc:"GoChannel topic to publish to"`
}

const pipeline = `
[pipeline]
name = "into-gochannel"

[[stages]]
id = "read"
function = "json.read"
[stages.config]
path = "orders.jsonl"

[[stages]]
id = "big"
function = "filter.apply"
inputs = ["read"]
[stages.config]
column = "amount"
operator = ">="
value = "100"

[[stages]]
id = "publish"
function = "gochannel"
inputs = ["big"]
[stages.config]
topic = "orders"
`

// Register Watermill's in-memory GoChannel as a sink in a cloned registry,
// run a pipeline into it, and read what arrived.
func Example() {
	// Persistent: the messages wait in the GoChannel for a subscriber.
	pubSub := gochannel.NewGoChannel(gochannel.Config{Persistent: true}, watermill.NopLogger{})

	reg := flow.Registry().Clone()
	err := reg.Register(&plugin.Spec{
		Name: "gochannel", Plugin: "gochannel", Summary: "publish to an in-memory GoChannel",
		Sink: plugin.PublisherSink(func() *Config { return &Config{} },
			func(_ context.Context, c *Config, _ plugin.Env) (plugin.ForeignPublisher, error) {
				// KeepOpen: the GoChannel outlives the run, which would
				// otherwise close it.
				return plugin.ForeignPublisher{Publisher: pubSub, Topic: c.Topic, KeepOpen: true}, nil
			}),
	})
	if err != nil {
		panic(err)
	}

	dir, _ := os.MkdirTemp("", "gochannel-example-")
	defer os.RemoveAll(dir)
	input := `{"id":1,"amount":250}
{"id":2,"amount":12}
{"id":3,"amount":100}
`
	_ = os.WriteFile(filepath.Join(dir, "orders.jsonl"), []byte(input), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "pipeline.toml"), []byte(pipeline), 0o644)
	cfg, err := config.Load(filepath.Join(dir, "pipeline.toml"))
	if err != nil {
		panic(err)
	}
	sum, err := flow.Execute(context.Background(), cfg, flow.WithRegistry(reg))
	if err != nil {
		panic(err)
	}
	fmt.Printf("in %d, out %d, filtered %d\n", sum.In, sum.Out, sum.Filtered)

	msgs, err := pubSub.Subscribe(context.Background(), "orders")
	if err != nil {
		panic(err)
	}
	var got []string
	for range sum.Out {
		msg := <-msgs
		got = append(got, string(msg.Payload))
		msg.Ack()
	}
	sort.Strings(got) // GoChannel hands persisted messages over concurrently
	for _, p := range got {
		fmt.Println(p)
	}
	_ = message.Publisher(pubSub).Close()
	// Output:
	// in 3, out 2, filtered 1
	// {"id":1,"amount":250}
	// {"id":3,"amount":100}
}
