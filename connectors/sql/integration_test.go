package sql_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/kafkatest"
)

// outboxPipeline is sql.outbox → kafka.
func outboxPipeline(dsn, topic, group string, env kafkatest.Env, out string, maxMessages int) string {
	return fmt.Sprintf(`
[pipeline]
name = "outbox"

[[stages]]
id = "outbox"
function = "sql.outbox"
[stages.config]
dsn = %q
topic = %q
consumer_group = %q
max_messages = %d
poll_interval_ms = 20

[[stages]]
id = "kafka"
function = "kafka"
inputs = ["outbox"]
[stages.config]
brokers = %q
topic = %q
linger_ms = 0
`, dsn, topic, group, maxMessages, env.BrokerList(), out)
}

// writePipeline is kafka → sql.write.
func writePipeline(dsn, topic string, env kafkatest.Env, in, group, sourceKeys string) string {
	return fmt.Sprintf(`
[pipeline]
name = "into-postgres"

[[stages]]
id = "kafka"
function = "kafka"
[stages.config]
brokers = %q
topic = %q
group_id = %q
%s

[[stages]]
id = "rows"
function = "sql.write"
inputs = ["kafka"]
[stages.config]
dsn = %q
topic = %q
`, env.BrokerList(), in, group, sourceKeys, dsn, topic)
}

func load(t *testing.T, text string) *config.Pipeline {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pipeline.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Rows committed to the outbox reach Kafka, all of them, rows of a
// rolled-back transaction never do, and the group's offset is stored in
// PostgreSQL: a second run finds nothing left.
func TestIntegrationSQLOutboxToKafka(t *testing.T) {
	db, dsn := postgres(t)
	env := kafkatest.Start(t)
	topic, out, group := sqlName("outbox"), kafkatest.Name("from-outbox"), "g1"
	env.CreateTopic(t, out, 1)
	initOutbox(t, db, topic)
	const n = 500
	insertOutbox(t, db, topic, 0, n, 7)
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`INSERT INTO "watermill_` + topic + `" (uuid, payload, metadata, transaction_id) VALUES (gen_random_uuid()::text, '{"id":-1}', '{}', pg_current_xact_id())`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	sum, err := flow.Execute(context.Background(), load(t, outboxPipeline(dsn, topic, group, env, out, n)))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d outbox rows to Kafka in %s (%.0f rows/s)", sum.Out, time.Since(start).Round(time.Millisecond), float64(sum.Out)/time.Since(start).Seconds())
	if sum.In != n || sum.Out != n {
		t.Errorf("summary in %d out %d, want %d and %d", sum.In, sum.Out, n, n)
	}
	var values [][]byte
	for _, m := range env.ReadAll(t, out) {
		values = append(values, m.Value)
	}
	got := ids(t, values)
	report(t, "sql.outbox → kafka, no fault", 0, got, n, 0)
	if got[-1] != 0 {
		t.Error("a row of a rolled-back transaction reached Kafka")
	}
	if len(values) != n {
		t.Errorf("%d messages in Kafka, want %d (no fault: no duplicate)", len(values), n)
	}
	var maxOffset int64
	if err := db.QueryRow(`SELECT max("offset") FROM "watermill_` + topic + `"`).Scan(&maxOffset); err != nil {
		t.Fatal(err)
	}
	if acked := ackedOffset(t, db, topic, group); acked != maxOffset {
		t.Errorf("the group's stored offset is %d, want the last row's %d", acked, maxOffset)
	}

	// A second run of the group finds nothing new; another group reads all.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	sum, err = flow.Execute(ctx, load(t, outboxPipeline(dsn, topic, group, env, out, 0)))
	if err != nil {
		t.Fatal(err)
	}
	if sum.In != 0 {
		t.Errorf("a second run of group %s read %d rows, want 0 (its offset is stored)", group, sum.In)
	}
}

// Kafka → sql.write: every record is a row, with its Kafka metadata in the
// row's metadata, and the source's offsets are committed.
func TestIntegrationSQLWriteFromKafka(t *testing.T) {
	db, dsn := postgres(t)
	env := kafkatest.Start(t)
	in, group, topic := kafkatest.Name("to-postgres"), kafkatest.Name("g"), sqlName("rows")
	env.CreateTopic(t, in, 3)
	const n = 3000
	msgs := make([]kafkatest.Msg, n)
	for i := range msgs {
		msgs[i] = kafkatest.Msg{Partition: int32(i % 3), Key: []byte(fmt.Sprint("k", i)), Value: []byte(fmt.Sprintf(`{"id":%d}`, i))}
	}
	env.Produce(t, in, msgs)

	sum, err := flow.Execute(context.Background(), load(t, writePipeline(dsn, topic, env, in, group, `until = "end"`)))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Out != n {
		t.Errorf("summary out %d, want %d", sum.Out, n)
	}
	got := ids(t, tableValues(t, db, topic))
	report(t, "kafka → sql.write, no fault", 0, got, n, 0)
	if rows := countRows(t, db, topic); rows != n {
		t.Errorf("%d rows, want %d (no fault: no duplicate)", rows, n)
	}
	var key, part string
	err = db.QueryRow(`SELECT metadata->>'_kafka_key', metadata->>'_kafka_partition' FROM "watermill_`+topic+`" WHERE payload->>'id' = '4'`).Scan(&key, &part)
	if err != nil {
		t.Fatal(err)
	}
	if key != "k4" || part != "1" {
		t.Errorf("row of id 4: metadata _kafka_key %q, _kafka_partition %q, want k4 and 1", key, part)
	}
	committed, ends := env.Committed(t, group, in), env.EndOffsets(t, in)
	for p, end := range ends {
		if committed[p] != end {
			t.Errorf("partition %d committed %d, want %d", p, committed[p], end)
		}
	}
}

// A bad DSN fails the run with an error naming the stage and the server,
// not the password.
func TestIntegrationSQLUnreachableNamesServerNotPassword(t *testing.T) {
	env := kafkatest.Start(t)
	out := kafkatest.Name("out")
	env.CreateTopic(t, out, 1) // a sink's missing topic fails the run first (create_topic = false)
	text := outboxPipeline("postgres://u:s3cret@127.0.0.1:1/db?sslmode=disable&connect_timeout=2", "t", "g", env, out, 1)
	_, err := flow.Execute(context.Background(), load(t, text))
	if err == nil {
		t.Fatal("a run against a closed port succeeded")
	}
	for _, want := range []string{`"outbox"`, "127.0.0.1:1"} {
		if !contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if contains(err.Error(), "s3cret") {
		t.Errorf("error %q shows the password", err)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
