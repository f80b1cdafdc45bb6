package sql_test

import (
	"context"
	stdsql "database/sql"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// postgres returns the database of POSTGRES_DSN, or skips the test loudly
// saying how to run it.
func postgres(t *testing.T) (*stdsql.DB, string) {
	t.Helper()
	dsn := os.Getenv("POSTGRES_DSN")
	if dsn == "" {
		t.Skipf("\n*** SKIPPED: %s needs a PostgreSQL server (POSTGRES_DSN is not set).\n*** Run it with:\n"+
			"***   scripts/postgres.sh up && POSTGRES_DSN=\"$(scripts/postgres.sh dsn)\" go test -count=1 -v -run SQL ./connectors/sql", t.Name())
	}
	pc, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*pc)
	t.Cleanup(func() { db.Close() })
	if err := db.Ping(); err != nil {
		t.Fatalf("POSTGRES_DSN: %v", err)
	}
	return db, dsn
}

// sqlName returns a topic name unique to this test process: the tables are
// watermill_<name> and watermill_offsets_<name>.
func sqlName(prefix string) string {
	return fmt.Sprintf("%s_%d", prefix, time.Now().UnixNano()%1e12)
}

// initOutbox creates the outbox table and its offsets table, as the
// service that writes the outbox would at deployment.
func initOutbox(t testing.TB, db *stdsql.DB, topic string) {
	t.Helper()
	sub, err := wsql.NewSubscriber(wsql.BeginnerFromStdSQL(db), wsql.SubscriberConfig{
		SchemaAdapter: wsql.DefaultPostgreSQLSchema{}, OffsetsAdapter: wsql.DefaultPostgreSQLOffsetsAdapter{},
	}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.SubscribeInitialize(topic); err != nil {
		t.Fatal(err)
	}
	_ = sub.Close()
}

// insertOutbox inserts the rows {"id":from}..{"id":to-1} into the outbox,
// perTx per transaction, as a service would next to its own writes: every
// other transaction with a plain INSERT, the others with watermill-sql's
// Publisher over the transaction.
func insertOutbox(t *testing.T, db *stdsql.DB, topic string, from, to, perTx int) {
	t.Helper()
	ctx := context.Background()
	for start, n := from, 0; start < to; start, n = start+perTx, n+1 {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		end := min(start+perTx, to)
		if n%2 == 0 {
			for id := start; id < end; id++ {
				_, err = tx.Exec(`INSERT INTO "watermill_`+topic+`" (uuid, payload, metadata, transaction_id) VALUES (gen_random_uuid()::text, $1, '{}', pg_current_xact_id())`,
					fmt.Sprintf(`{"id":%d,"via":"insert"}`, id))
				if err != nil {
					t.Fatal(err)
				}
			}
		} else {
			pub, err := wsql.NewPublisher(wsql.TxFromStdSQL(tx), wsql.PublisherConfig{SchemaAdapter: wsql.DefaultPostgreSQLSchema{}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			var msgs []*message.Message
			for id := start; id < end; id++ {
				msgs = append(msgs, message.NewMessage(fmt.Sprint(id), []byte(fmt.Sprintf(`{"id":%d,"via":"publisher"}`, id))))
			}
			if err := pub.Publish(topic, msgs...); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
}

// ids returns how many times each "id" occurs in the JSON values.
func ids(t *testing.T, values [][]byte) map[int]int {
	t.Helper()
	out := map[int]int{}
	for _, v := range values {
		var r struct {
			ID *int `json:"id"`
		}
		if err := json.Unmarshal(v, &r); err != nil || r.ID == nil {
			t.Fatalf("record without an id: %s (%v)", v, err)
		}
		out[*r.ID]++
	}
	return out
}

// tableValues reads the payloads of the table watermill_<topic>.
func tableValues(t testing.TB, db *stdsql.DB, topic string) [][]byte {
	t.Helper()
	rows, err := db.Query(`SELECT payload FROM "watermill_` + topic + `" ORDER BY "offset"`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var v []byte
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// countRows counts the rows of watermill_<topic> (0 while it is missing).
func countRows(t *testing.T, db *stdsql.DB, topic string) int {
	t.Helper()
	var n int
	err := db.QueryRow(`SELECT count(*) FROM "watermill_` + topic + `"`).Scan(&n)
	if err != nil && strings.Contains(err.Error(), "does not exist") {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// ackedOffset is the outbox offset the consumer group has stored (0 when
// none).
func ackedOffset(t *testing.T, db *stdsql.DB, topic, group string) int64 {
	t.Helper()
	var off int64
	err := db.QueryRow(`SELECT offset_acked FROM "watermill_offsets_`+topic+`" WHERE consumer_group = $1`, group).Scan(&off)
	if err == stdsql.ErrNoRows {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return off
}

// report checks that every id in [0, n) arrived and that duplicates stay
// within maxDup, and logs a row of the crash table.
func report(t *testing.T, what string, kills int, got map[int]int, n, maxDup int) {
	t.Helper()
	missing, dups, total := 0, 0, 0
	for id := 0; id < n; id++ {
		switch c := got[id]; {
		case c == 0:
			missing++
		default:
			dups += c - 1
		}
	}
	for _, c := range got {
		total += c
	}
	t.Logf("SQL-CRASH-TABLE | %s | kills %d | in %d | out %d | distinct %d | missing %d | duplicates %d (allowed %d)", what, kills, n, total, len(got), missing, dups, maxDup)
	if dups > maxDup {
		t.Errorf("%d duplicates, want at most %d", dups, maxDup)
	}
	if missing > 0 {
		t.Errorf("%d of %d records missing", missing, n)
	}
	if len(got) > n {
		t.Errorf("%d distinct ids, want at most %d (records that were never written arrived)", len(got), n)
	}
}
