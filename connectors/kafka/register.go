package kafka

import (
	"context"

	"github.com/conveyor-etl/conveyor/config"

	"github.com/conveyor-etl/conveyor/plugin"
)

func init() { plugin.MustRegister(Specs()...) }

// Specs are the functions this package registers.
func Specs() []*plugin.Spec { return []*plugin.Spec{Spec(), TableJoinSpec()} }

// Spec is the "kafka" function: a source without inputs, a sink with.
func Spec() *plugin.Spec {
	return &plugin.Spec{
		Name:    "kafka",
		Plugin:  "kafka",
		Summary: "read a Kafka topic (no inputs) or write one (with inputs)",
		Doc: `as a dead-letter topic ([error_handling] dead_letter_queue = { topic = "..." }):
  the sink keys above. Without brokers, it takes the connection keys (brokers, client_id,
  delivery, dial_timeout_ms, security_protocol, sasl_*, tls_*) of the pipeline's first kafka
  sink, else of its first kafka source; keys in its table override them one by one. With
  brokers, it takes nothing.
`,
		Source: plugin.NewFactory(DefaultSourceConfig, func(_ context.Context, c *SourceConfig, env plugin.Env) (plugin.Source, error) {
			c.logWarnings(env.Logger)
			if c.Delivery == "per-message" {
				return newPerMessageSource(c, env)
			}
			return NewSource(c, env)
		}),
		Check:         checkSource,
		Transactional: transactional,
		Sink: plugin.NewFactory(DefaultSinkConfig, func(_ context.Context, c *SinkConfig, env plugin.Env) (plugin.Sink, error) {
			c.logWarnings(env.Logger)
			if c.Delivery == "per-message" {
				return newPerMessageSink(c, env)
			}
			return NewSink(c, env)
		}),
	}
}

// checkSource refuses invalid = "dead_letter" in a pipeline without a
// dead-letter queue: the records would have nowhere to go.
func checkSource(cfg any, _ *config.Stage, p *config.Pipeline) error {
	c, ok := cfg.(*SourceConfig)
	if !ok || c.Invalid != InvalidDeadLetter || p.ErrorHandling.DeadLetterQueue != nil {
		return nil
	}
	return config.Invalid("invalid", "%q needs [error_handling.dead_letter_queue] (a file or a topic) for the records whose value is not valid JSON; configure one, or use \"wrap\" or \"fail\"", InvalidDeadLetter)
}
