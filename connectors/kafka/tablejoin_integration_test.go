package kafka

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/kafkatest"
	"github.com/conveyor-etl/conveyor/plugin"
)

// tableRows is the table's size: 100,000 rows, or 10,000 under -race (CI's
// race step runs every test on the embedded broker, and the real-broker
// step runs these with 100,000).
var tableRows = map[bool]int{false: 100_000, true: 10_000}[raceEnabled]

const tableParts = 4

// tableFixture is a 100,000-row table topic and an empty stream topic
// with as many partitions.
type tableFixture struct {
	env           kafkatest.Env
	table, stream string
}

func newTableFixture(t *testing.T) tableFixture {
	env := kafkatest.Start(t)
	f := tableFixture{env: env, table: kafkatest.Name("users"), stream: kafkatest.Name("orders")}
	env.CreateTopic(t, f.table, tableParts, "cleanup.policy", "compact")
	env.CreateTopic(t, f.stream, tableParts)
	rows := make([]kafkatest.Msg, tableRows)
	for i := range rows {
		rows[i] = kafkatest.Msg{Partition: -1, Key: []byte(fmt.Sprintf("u-%d", i)), Value: []byte(fmt.Sprintf(`{"name":"n-%d","tier":%d,"v":0}`, i, i%3))}
	}
	produceChunked(t, env, f.table, rows)
	return f
}

func (f tableFixture) join(t *testing.T, mutate func(*TableJoinConfig)) (*TableJoin, time.Duration) {
	t.Helper()
	c := DefaultTableJoinConfig()
	c.Brokers, c.TableTopic, c.Key, c.Into = f.env.Brokers, f.table, "user_id", "user"
	c.streamTopic = f.stream
	if mutate != nil {
		mutate(c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	j, err := NewTableJoin(context.Background(), c, plugin.Env{Stage: &config.Stage{ID: "enrich"}, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j, time.Since(start)
}

// wantLoading checks that j loads nothing now and has read every offset
// of the partitions it started, at least offsets (the rows written first;
// a later subtest also finds the earlier one's updates).
func wantLoading(t *testing.T, j *TableJoin, offsets int64) {
	t.Helper()
	got := j.Loading()
	if got.Parts != 0 || got.Done != got.Total || got.Total < offsets || (offsets == 0 && got.Total != 0) || got.What != fmt.Sprintf("table topic %q", j.cfg.TableTopic) {
		t.Fatalf("Loading() = %+v, want nothing loading and every offset read (at least %d)", got, offsets)
	}
}

var murmur = sarama.NewMurmur2Partitioner("")

func partitionOf(key string) int32 {
	p, _ := murmur.Partition(&sarama.ProducerMessage{Key: sarama.StringEncoder(key)}, tableParts)
	return p
}

func order(i int) []byte {
	k := fmt.Sprintf("u-%d", i)
	return []byte(fmt.Sprintf(`{"order_id":%d,"user_id":%q,"user":"overwritten","_kafka_partition":%d}`, i, k, partitionOf(k)))
}

// joinedUser applies j to the order of user i and returns its user member
// (nil: null), failing the test on a record failure.
func joinedUser(t testing.TB, j *TableJoin, i int) (map[string]any, bool) {
	out := j.Apply([]plugin.Record{{Value: order(i)}}, nil, func(_ int, err error) { t.Errorf("user %d: %v", i, err) })
	if len(out) == 0 {
		return nil, false
	}
	var rec struct {
		OrderID int            `json:"order_id"`
		User    map[string]any `json:"user"`
	}
	if err := json.Unmarshal(out[0].Value, &rec); err != nil || rec.OrderID != i {
		t.Fatalf("user %d: %s: %v", i, out[0].Value, err)
	}
	if strings.Count(string(out[0].Value), `"user":`) != 1 {
		t.Fatalf("user %d: the record's own user field was not replaced: %s", i, out[0].Value)
	}
	return rec.User, true
}

// wantUser checks user i's row: version v, or no row (v < 0).
func wantUser(t testing.TB, j *TableJoin, i, v int) {
	u, _ := joinedUser(t, j, i)
	if v < 0 {
		if u != nil {
			t.Fatalf("user %d: row %v, want none", i, u)
		}
		return
	}
	if u == nil || u["name"] != fmt.Sprintf("n-%d", i) || u["v"] != float64(v) {
		t.Fatalf("user %d: row %v, want version %d", i, u, v)
	}
}

// TestIntegrationTableJoin joins against a 100,000-key table (see
// tableRows) while it is updated (10,000 rows changed, 1,000 deleted, 500
// added; under -race 1,000, 100 and 500), with both
// scopes: the join starts with every row, applies every update, and a
// lookup racing the updates sees the old row or the new one.
func TestIntegrationTableJoin(t *testing.T) {
	f := newTableFixture(t)
	changed, deleted := tableRows/10, tableRows/10+tableRows/100 // rows [0, changed) change, [changed, deleted) go
	for _, scope := range []string{ScopeGlobal, ScopePartitioned} {
		t.Run(scope, func(t *testing.T) {
			j, took := f.join(t, func(c *TableJoinConfig) { c.Scope = scope })
			t.Logf("%s: NewTableJoin returned in %v (global: having loaded the %d rows; partitioned: it loads a partition on its first record)", scope, took, tableRows)
			if scope == ScopeGlobal && j.Stats().Rows != int64(tableRows) {
				t.Fatalf("loaded %d rows, want %d", j.Stats().Rows, tableRows)
			}
			wantLoading(t, j, map[bool]int64{true: int64(tableRows), false: 0}[scope == ScopeGlobal])
			for i := 0; i < tableRows+500; i += 97 {
				wantUser(t, j, i, map[bool]int{true: 0, false: -1}[i < tableRows])
			}
			if scope == ScopePartitioned && j.Stats().Rows != int64(tableRows) {
				t.Fatalf("after a record of every partition: %d rows, want %d", j.Stats().Rows, tableRows)
			}
			wantLoading(t, j, int64(tableRows))
			var racing sync.WaitGroup
			var stop atomic.Bool
			racing.Add(1)
			go func() { // lookups while the table changes
				defer racing.Done()
				for n := 0; !stop.Load(); n++ {
					i := (n * 7919) % (deleted + 1000)
					if u, _ := joinedUser(t, j, i); u != nil && u["name"] != fmt.Sprintf("n-%d", i) {
						t.Errorf("user %d: racing lookup got %v", i, u)
						return
					}
				}
			}()
			before := j.Stats().Updates
			var ups []kafkatest.Msg
			for i := range changed {
				ups = append(ups, kafkatest.Msg{Partition: -1, Key: []byte(fmt.Sprintf("u-%d", i)), Value: []byte(fmt.Sprintf(`{"name":"n-%d","v":1}`, i))})
			}
			for i := changed; i < deleted; i++ {
				ups = append(ups, kafkatest.Msg{Partition: -1, Key: []byte(fmt.Sprintf("u-%d", i))})
			}
			for i := tableRows; i < tableRows+500; i++ {
				ups = append(ups, kafkatest.Msg{Partition: -1, Key: []byte(fmt.Sprintf("u-%d", i)), Value: []byte(fmt.Sprintf(`{"name":"n-%d","v":1}`, i))})
			}
			produceChunked(t, f.env, f.table, ups)
			deadline := time.Now().Add(60 * time.Second)
			for j.Stats().Updates-before < int64(len(ups)) && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			stop.Store(true)
			racing.Wait()
			if got := j.Stats().Updates - before; got != int64(len(ups)) {
				t.Fatalf("%d updates applied, want %d", got, len(ups))
			}
			for i := 0; i < tableRows+1000; i += 13 {
				switch {
				case i < changed:
					wantUser(t, j, i, 1)
				case i < deleted:
					wantUser(t, j, i, -1)
				case i < tableRows:
					wantUser(t, j, i, 0)
				case i < tableRows+500:
					wantUser(t, j, i, 1)
				default:
					wantUser(t, j, i, -1)
				}
			}
			if rows, want := j.Stats().Rows, int64(tableRows-(deleted-changed)+500); rows != want {
				t.Fatalf("%d rows after the updates, want %d", rows, want)
			}
			// Restore the table for the next scope.
			var back []kafkatest.Msg
			for i := range deleted {
				back = append(back, kafkatest.Msg{Partition: -1, Key: []byte(fmt.Sprintf("u-%d", i)), Value: []byte(fmt.Sprintf(`{"name":"n-%d","tier":%d,"v":0}`, i, i%3))})
			}
			for i := tableRows; i < tableRows+500; i++ {
				back = append(back, kafkatest.Msg{Partition: -1, Key: []byte(fmt.Sprintf("u-%d", i))})
			}
			produceChunked(t, f.env, f.table, back)
		})
	}
}

// TestIntegrationTableJoinInnerFields: mode = "inner" drops the records
// without a row; fields copies some of the row's fields.
func TestIntegrationTableJoinInnerFields(t *testing.T) {
	f := newTableFixture(t)
	j, _ := f.join(t, func(c *TableJoinConfig) {
		c.Into, c.Fields, c.Mode = "", []string{"name", "tier", "missing"}, ModeInner
	})
	in := []plugin.Record{
		{Value: []byte(`{"user_id":"u-5","name":"mine","x":1}`), Offset: 10},
		{Value: []byte(`{"user_id":"nobody"}`), Offset: 11},
		{Value: []byte(`{"user_id":7}`), Offset: 12}, // the key "7": no row
		{Value: []byte(`{"other":1}`), Offset: 13},   // no key
		{Value: []byte(`[1,2]`), Offset: 14},         // not an object: no key either, dropped
		{Value: []byte(`{"user_id":"u-6"}`), Offset: 15},
	}
	out := j.Apply(in, nil, func(i int, err error) { t.Errorf("record %d failed: %v", i, err) })
	got := []string{}
	for _, r := range out {
		got = append(got, fmt.Sprintf("%d %s", r.Offset, r.Value))
	}
	want := []string{
		`10 {"user_id":"u-5","x":1,"name":"n-5","tier":2,"missing":null}`,
		`15 {"user_id":"u-6","name":"n-6","tier":0,"missing":null}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if s := j.Stats(); s.Joined != 2 || s.Dropped != 4 {
		t.Fatalf("stats %+v", s)
	}
}

// TestIntegrationTableJoinPartitionedChecks: a stream topic with another
// partition count is refused at start; a record whose key belongs to
// another partition fails alone, naming both partitions.
func TestIntegrationTableJoinPartitionedChecks(t *testing.T) {
	env := kafkatest.Start(t)
	table, stream := kafkatest.Name("users"), kafkatest.Name("orders")
	env.CreateTopic(t, table, 4, "cleanup.policy", "compact")
	env.CreateTopic(t, stream, 3)
	env.Produce(t, table, []kafkatest.Msg{{Partition: -1, Key: []byte("u-1"), Value: []byte(`{"v":1}`)}})
	c := DefaultTableJoinConfig()
	c.Brokers, c.TableTopic, c.Key, c.Into, c.Scope, c.streamTopic = env.Brokers, table, "user_id", "user", ScopePartitioned, stream
	penv := plugin.Env{Stage: &config.Stage{ID: "enrich"}, Logger: zap.NewNop()}
	_, err := NewTableJoin(context.Background(), c, penv)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf(`table topic %q has 4 partitions, the stream's topic %q 3: they are not co-partitioned`, table, stream)) {
		t.Fatalf("error %v", err)
	}
	c.TableTopic = kafkatest.Name("absent")
	if _, err := NewTableJoin(context.Background(), c, penv); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing table topic: %v", err)
	}
	c.TableTopic, c.streamTopic = table, table // co-partitioned with itself
	j, err := NewTableJoin(context.Background(), c, penv)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	wrong := (partitionOf("u-1") + 1) % 4
	var errs []string
	out := j.Apply([]plugin.Record{
		{Value: []byte(fmt.Sprintf(`{"user_id":"u-1","_kafka_partition":%d}`, wrong))},
		{Value: []byte(`{"user_id":"u-1"}`)},
		{Value: []byte(fmt.Sprintf(`{"user_id":"u-1","_kafka_partition":%d}`, partitionOf("u-1")))},
	}, nil, func(i int, err error) {
		if !plugin.IsPermanent(err) {
			t.Errorf("record %d: error not permanent: %v", i, err)
		}
		errs = append(errs, err.Error())
	})
	if len(out) != 1 || !strings.Contains(string(out[0].Value), `"user":{"v":1}`) {
		t.Fatalf("out %v", out)
	}
	if len(errs) != 2 || !strings.Contains(errs[0], fmt.Sprintf(`key "u-1" belongs to partition %d of table topic %q, the record is in partition %d`, partitionOf("u-1"), table, wrong)) ||
		!strings.Contains(errs[1], "_kafka_partition () is not a partition") {
		t.Fatalf("errors %q", errs)
	}
}

// produceChunked produces msgs 5,000 at a time: one request of 100,000
// small records exceeds a real broker's default max.message.bytes.
func produceChunked(t *testing.T, env kafkatest.Env, topic string, msgs []kafkatest.Msg) {
	for len(msgs) > 0 {
		n := min(len(msgs), 5000)
		env.Produce(t, topic, msgs[:n])
		msgs = msgs[n:]
	}
}

// TestIntegrationTableJoinTransactionalTable: a table written in a
// transaction ends with a commit marker, an offset no message has: the
// join still starts, with every row, once the log says the offsets left
// before the end hold no record it would deliver (no timer decides it).
func TestIntegrationTableJoinTransactionalTable(t *testing.T) {
	env := kafkatest.Start(t)
	table := kafkatest.Name("users")
	env.CreateTopic(t, table, 2, "cleanup.policy", "compact")
	var rows []kafkatest.Msg
	for i := range 100 {
		rows = append(rows, kafkatest.Msg{Partition: int32(i % 2), Key: []byte(fmt.Sprintf("u-%d", i)), Value: []byte(`{"v":1}`)})
	}
	env.ProduceTransaction(t, table, rows)
	for deadline := time.Now().Add(10 * time.Second); env.EndOffsets(t, table)[1] != 51; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("end offsets %v; want 51 (50 records and the commit marker)", env.EndOffsets(t, table))
		}
	}
	f := tableFixture{env: env, table: table}
	j, took := f.join(t, func(c *TableJoinConfig) { c.LoadTimeout = 30 * time.Second })
	if rows := j.Stats().Rows; rows != 100 {
		t.Fatalf("%d rows, want 100", rows)
	}
	t.Logf("loaded in %v (without reading what the last offsets hold it would fail at load_timeout_ms)", took)
}
