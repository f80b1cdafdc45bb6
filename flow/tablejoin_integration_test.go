package flow_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/conveyor-etl/conveyor/internal/kafkatest"
)

func tableJoinPipeline(env kafkatest.Env, stream, table, out, group, scope string) string {
	return fmt.Sprintf(`
[pipeline]
name = "table-join"

[global]
plugins = ["kafka"]

[[stages]]
id = "orders"
function = "kafka"
inputs = []
[stages.config]
brokers = %[1]q
topic = %[2]q
group_id = %[5]q
max_messages = 0

[[stages]]
id = "enrich"
function = "table.join"
inputs = ["orders"]
[stages.config]
brokers = %[1]q
table_topic = %[3]q
key = "user_id"
into = "user"
scope = %[6]q

[[stages]]
id = "save"
function = "kafka"
inputs = ["enrich"]
[stages.config]
brokers = %[1]q
topic = %[4]q
key_field = "order_id"
metadata = "drop"
`, env.BrokerList(), stream, table, out, group, scope)
}

// joinedOrder is an output record of the pipeline above.
type joinedOrder struct {
	OrderID string `json:"order_id"`
	UserID  string `json:"user_id"`
	User    *struct {
		Name string `json:"name"`
		V    int    `json:"v"`
	} `json:"user"`
}

func readJoined(t *testing.T, env kafkatest.Env, out string) map[string]joinedOrder {
	got := map[string]joinedOrder{}
	for _, m := range env.ReadAll(t, out) {
		var o joinedOrder
		if err := json.Unmarshal(m.Value, &o); err != nil {
			t.Fatalf("%s: %v", m.Value, err)
		}
		got[o.OrderID] = o
	}
	return got
}

func userRow(i, v int) kafkatest.Msg {
	return kafkatest.Msg{Partition: -1, Key: []byte(fmt.Sprintf("u-%d", i)), Value: []byte(fmt.Sprintf(`{"name":"n-%d","v":%d}`, i, v))}
}

// TestIntegrationTableJoinPipeline runs table.join in a streaming pipeline
// against a 100,000-key table that is updated while the stream runs
// (10,000 rows changed, 1,000 deleted), with scope global and
// partitioned: orders before the update see the old rows, orders after it
// the new ones, every one of them.
func TestIntegrationTableJoinPipeline(t *testing.T) {
	for _, scope := range []string{"global", "partitioned"} {
		t.Run(scope, func(t *testing.T) { tableJoinRun(t, scope) })
	}
}

func tableJoinRun(t *testing.T, scope string) {
	// 100,000 rows, 10,000 of them changed and 1,000 deleted; a tenth of
	// that under -race (CI's race step runs every test on the embedded
	// broker; its real-broker step runs this one at full size).
	const parts = 4
	scale := map[bool]int{false: 1, true: 10}[raceEnabled]
	rows, orders, changed, deleted := 100_000/scale, 10_000/scale, 10_000/scale, 11_000/scale
	env := kafkatest.Start(t)
	parallelOnRealBroker(t, env)
	stream, table, out, group := kafkatest.Name("orders"), kafkatest.Name("users"), kafkatest.Name("joined"), kafkatest.Name("g")
	env.CreateTopic(t, table, parts, "cleanup.policy", "compact")
	env.CreateTopic(t, stream, parts)
	env.CreateTopic(t, out, parts)
	tbl := make([]kafkatest.Msg, rows)
	for i := range tbl {
		tbl[i] = userRow(i, 0)
	}
	produceChunked(t, env, table, tbl)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := startRun(t, ctx, tableJoinPipeline(env, stream, table, out, group, scope))

	r := rand.New(rand.NewPCG(1, uint64(len(scope))))
	produceOrders := func(prefix string, n int) map[string]int {
		users := map[string]int{}
		msgs := make([]kafkatest.Msg, n)
		for k := range msgs {
			id, u := fmt.Sprintf("%s-%d", prefix, k), r.IntN(rows+1000) // some users have no row
			users[id] = u
			user := fmt.Sprintf("u-%d", u)
			msgs[k] = kafkatest.Msg{Partition: -1, Key: []byte(user), Value: []byte(fmt.Sprintf(`{"order_id":%q,"user_id":%q}`, id, user))}
		}
		produceChunked(t, env, stream, msgs)
		return users
	}
	waitFor := func(what string, ok func(map[string]joinedOrder) bool) map[string]joinedOrder {
		deadline := time.Now().Add(2 * time.Minute)
		for {
			got := readJoined(t, env, out)
			if ok(got) {
				return got
			}
			select {
			case res := <-done:
				t.Fatalf("the run ended (%v, %s) before %s", res.err, res.sum, what)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 2 minutes (%d records out)", what, len(got))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	before := produceOrders("a", orders)
	waitFor("the first orders", func(got map[string]joinedOrder) bool { return len(got) >= orders })

	// Update the table, then one sentinel row per partition; once a probe
	// order sees every sentinel, every update before it has been applied.
	var ups []kafkatest.Msg
	for i := range changed {
		ups = append(ups, userRow(i, 1))
	}
	for i := changed; i < deleted; i++ {
		ups = append(ups, kafkatest.Msg{Partition: -1, Key: []byte(fmt.Sprintf("u-%d", i))})
	}
	sentinels := sentinelUsers(parts)
	for _, u := range sentinels {
		ups = append(ups, userRow(u, 1))
	}
	produceChunked(t, env, table, ups)
	seen := map[int]bool{}
	for probe := 0; len(seen) < len(sentinels); probe++ {
		var msgs []kafkatest.Msg
		for _, u := range sentinels {
			user := fmt.Sprintf("u-%d", u)
			msgs = append(msgs, kafkatest.Msg{Partition: -1, Key: []byte(user), Value: []byte(fmt.Sprintf(`{"order_id":"probe-%d-%d","user_id":%q}`, probe, u, user))})
		}
		env.Produce(t, stream, msgs)
		got := waitFor("the probes", func(got map[string]joinedOrder) bool { return len(got) >= orders+len(msgs)*(probe+1) })
		for _, u := range sentinels {
			if o := got[fmt.Sprintf("probe-%d-%d", probe, u)]; o.User != nil && o.User.V == 1 {
				seen[u] = true
			}
		}
		if probe == 300 {
			t.Fatalf("after %d probes the join still shows old sentinel rows", probe)
		}
	}
	after := produceOrders("b", orders)
	got := waitFor("the second orders", func(got map[string]joinedOrder) bool {
		n := 0
		for id := range after {
			if _, ok := got[id]; ok {
				n++
			}
		}
		return n == orders
	})
	cancel()
	if res := <-done; res.err != nil {
		t.Fatalf("run: %v", res.err)
	}
	check := func(ids map[string]int, updated bool) {
		for id, u := range ids {
			o, ok := got[id]
			if !ok {
				t.Fatalf("order %s missing", id)
			}
			wantV := 0
			switch {
			case u >= rows, updated && u >= changed && u < deleted:
				if o.User != nil {
					t.Fatalf("order %s of user %d: row %+v, want none", id, u, *o.User)
				}
				continue
			case updated && u < changed:
				wantV = 1
			}
			if o.User == nil || o.User.Name != fmt.Sprintf("n-%d", u) || o.User.V != wantV {
				t.Fatalf("order %s of user %d: row %+v, want version %d", id, u, o.User, wantV)
			}
		}
	}
	check(before, false)
	check(after, true)
}

// sentinelUsers returns, for each of n partitions, a user id beyond the
// table's whose key murmur2 puts there.
func sentinelUsers(n int32) []int {
	p := sarama.NewMurmur2Partitioner("")
	found := map[int32]int{}
	for u := 1_000_000; len(found) < int(n); u++ {
		k, _ := p.Partition(&sarama.ProducerMessage{Key: sarama.StringEncoder(fmt.Sprintf("u-%d", u))}, n)
		if _, ok := found[k]; !ok {
			found[k] = u
		}
	}
	out := make([]int, 0, n)
	for _, u := range found {
		out = append(out, u)
	}
	return out
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
