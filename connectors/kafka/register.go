package kafka

import "github.com/conveyor-etl/conveyor/plugin"

func init() { plugin.MustRegister(Spec()) }

// Spec is the "kafka" function: a source without inputs, a sink with.
func Spec() *plugin.Spec {
	return &plugin.Spec{
		Name:    "kafka",
		Plugin:  "kafka",
		Summary: "read a Kafka topic (no inputs) or write one (with inputs)",
		Source: plugin.NewFactory(DefaultSourceConfig, func(c *SourceConfig, env plugin.Env) (plugin.Source, error) {
			if c.Delivery == "per-message" {
				return newPerMessageSource(c, env)
			}
			return NewSource(c, env)
		}),
		Sink: plugin.NewFactory(DefaultSinkConfig, func(c *SinkConfig, env plugin.Env) (plugin.Sink, error) {
			if c.Delivery == "per-message" {
				return newPerMessageSink(c, env)
			}
			return NewSink(c, env)
		}),
	}
}
