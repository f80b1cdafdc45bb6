package sql

import (
	"context"

	"github.com/conveyor-etl/conveyor/plugin"
)

func init() { plugin.MustRegister(Specs()...) }

// Specs are the functions this package registers.
func Specs() []*plugin.Spec { return []*plugin.Spec{OutboxSpec(), WriteSpec()} }

// OutboxSpec is the "sql.outbox" function: a source.
func OutboxSpec() *plugin.Spec {
	return &plugin.Spec{
		Name: "sql.outbox", Plugin: "sql",
		Summary: "forward the rows of a PostgreSQL transactional outbox (watermill-sql), committing progress after the sinks",
		Doc: `the outbox is the table watermill_<topic>; a service inserts its rows in its own transaction:
  INSERT INTO "watermill_orders" (uuid, payload, metadata, transaction_id)
  VALUES (gen_random_uuid()::text, '{"id":1}', '{}', pg_current_xact_id());
  (or publishes with watermill-sql's Publisher over that transaction). Rows are read in commit
  order; the consumer group's offset is stored in watermill_offsets_<topic> once the rows' batch
  is durable in every sink below, so a sink must be durable on ack (kafka, sql.write).
`,
		Source: plugin.SubscriberSource(DefaultOutboxConfig, func(_ context.Context, c *OutboxConfig, env plugin.Env) (plugin.ForeignSubscriber, error) {
			sub, err := NewSubscriber(c, env)
			return plugin.ForeignSubscriber{Subscriber: sub, Topic: c.Topic, BatchSize: c.BatchSize, Limit: c.MaxMessages}, err
		}),
	}
}

// WriteSpec is the "sql.write" function: a sink.
func WriteSpec() *plugin.Spec {
	return &plugin.Spec{
		Name: "sql.write", Plugin: "sql",
		Summary: "insert records as rows of a PostgreSQL table (watermill-sql), committed before the source's offsets",
		Sink: plugin.PublisherSink(DefaultWriteConfig, func(_ context.Context, c *WriteConfig, env plugin.Env) (plugin.ForeignPublisher, error) {
			pub, err := NewPublisher(c, env)
			return plugin.ForeignPublisher{Publisher: pub, Topic: c.Topic}, err
		}),
	}
}
