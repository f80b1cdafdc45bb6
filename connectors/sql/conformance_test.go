package sql_test

import (
	"context"
	"testing"

	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/connectors/sql"
	"github.com/conveyor-etl/conveyor/plugin"
	"github.com/conveyor-etl/conveyor/plugin/plugintest"
)

// sql.outbox keeps plugin.Source's contract (plugintest's suite) on the
// PostgreSQL of POSTGRES_DSN: an outbox table per check, its rows inserted
// in one transaction, progress in the consumer group's offset.
// (Named Integration so that .ci/run's SQL step, which sets POSTGRES_DSN,
// runs them.)
func TestIntegrationSQLOutboxConformance(t *testing.T) {
	db, dsn := postgres(t)
	plugintest.TestSource(t, plugintest.SourceCase{
		Resumes: true,
		Input: func(t testing.TB, records [][]byte) plugintest.NewSource {
			topic := sqlName("conform_outbox")
			initOutbox(t, db, topic)
			tx, err := db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range records {
				if _, err := tx.Exec(`INSERT INTO "watermill_`+topic+`" (uuid, payload, metadata, transaction_id) VALUES (gen_random_uuid()::text, $1, '{}', pg_current_xact_id())`, r); err != nil {
					tx.Rollback()
					t.Fatal(err)
				}
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			return func(ctx context.Context) (plugin.Source, error) {
				c := sql.DefaultOutboxConfig()
				c.DSN, c.Topic = config.Secret(dsn), topic
				return sql.OutboxSpec().Source.Build(ctx, c, plugin.Env{Stage: &config.Stage{ID: "outbox"}, Logger: zap.NewNop(), DurableOnAck: true})
			}
		},
	})
}

// sql.write keeps plugin.Sink's contract: what Publish returned for is
// committed in the table (read back in insert order). A record that is
// not JSON fails the INSERT (payload_type JSON), and with it the whole
// write.
func TestIntegrationSQLWriteConformance(t *testing.T) {
	db, dsn := postgres(t)
	plugintest.TestSink(t, plugintest.SinkCase{
		New: func(t testing.TB) (plugin.Sink, plugintest.ReadBack) {
			topic := sqlName("conform_write")
			c := sql.DefaultWriteConfig()
			c.DSN, c.Topic = config.Secret(dsn), topic
			s, err := sql.WriteSpec().Sink.Build(context.Background(), c, plugin.Env{Stage: &config.Stage{ID: "write"}, Logger: zap.NewNop()})
			if err != nil {
				t.Fatal(err)
			}
			return s, func(t testing.TB) [][]byte { return tableValues(t, db, topic) }
		},
		Failing: []byte(`{"not json"`),
	})
}
