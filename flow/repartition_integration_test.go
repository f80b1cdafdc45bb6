package flow_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/kafkatest"
	"github.com/conveyor-etl/conveyor/internal/window/ordergen"
)

// raceScaled is n records, or a third under -race (which runs the
// package's whole suite within go test's default timeout).
func raceScaled(n int) int {
	if raceEnabled {
		return n / 3
	}
	return n
}

// ordersByID are the generated orders keyed by their order id, not by the
// country the pipeline groups by, each to its generator partition, then
// per partition one order an hour ahead of every other (country "ZZ"),
// which closes every window before it.
func ordersByID(evs []ordergen.Event, parts int) []kafkatest.Msg {
	msgs := ordergen.Messages(evs, false)
	last := int64(math.MinInt64)
	for _, e := range evs {
		last = max(last, e.Time)
	}
	for p := range parts {
		closing := ordergen.Event{Partition: int32(p), OrderID: fmt.Sprintf("close-%d", p), Country: "ZZ", Amount: 1, UserID: "u", Time: last + time.Hour.Milliseconds()}
		msgs = append(msgs, ordergen.Messages([]ordergen.Event{closing}, false)...)
	}
	return msgs
}

// windowRecords are the values written to topic, sorted: each window
// exactly as it came out.
func windowRecords(t *testing.T, env kafkatest.Env, topic string) []string {
	var out []string
	for _, m := range env.ReadAll(t, topic) {
		out = append(out, string(m.Value))
	}
	slices.Sort(out)
	return out
}

// checkLate asserts that the dead-lettered orders are exactly the late.
func checkLate(t *testing.T, env kafkatest.Env, dlq string, exp ordergen.Expected) {
	t.Helper()
	late := lateIDs(t, env, dlq, false)
	if len(late) != len(exp.Late) || len(exp.Late) == 0 {
		t.Errorf("%d dead-lettered, want the %d late", len(late), len(exp.Late))
	}
	for id := range exp.Late {
		if !late[id] {
			t.Errorf("late order %s not dead-lettered", id)
		}
	}
}

// Issue 17, "Event time": reading a backlog (every order in the topic
// before the run starts, the partitions read at whatever pace the fetches
// give) produces exactly the windows a live run produces, after a
// repartition: the orders are keyed by order id and counted by country,
// so window.aggregate repartitions them through
// <group>-count-repartition. Both runs give each window once, with the
// count and sum of the independent reference (by the per-partition rule:
// a record is late only when late within its own partition), and
// dead-letter exactly the late orders.
func TestIntegrationRepartitionBacklogMatchesLive(t *testing.T) {
	env := kafkatest.Start(t)
	parallelOnRealBroker(t, env)
	cfg := ordergen.Config{Records: raceScaled(20000), Partitions: 6, Seed: 21, Size: 10000, Grace: 5000}
	evs := ordergen.Generate(cfg)
	exp := ordergen.Reference(evs, cfg.Size, cfg.Grace)
	msgs := ordersByID(evs, 6)
	topics := func() (in, out, dlq, group string) {
		in, out, dlq, group = kafkatest.Name("orders"), kafkatest.Name("windows"), kafkatest.Name("dlq"), kafkatest.Name("g")
		env.CreateTopic(t, in, 6)
		env.CreateTopic(t, out, 6)
		env.CreateTopic(t, dlq, 1)
		return
	}

	// Live: the run streams while the orders are produced in the order
	// their partitions' clocks wrote them.
	in, liveOut, liveDLQ, group := topics()
	p, err := config.Load(writePipeline(t, t.TempDir(), windowPipeline(env, in, liveOut, liveDLQ, group, "max_messages = 0\nbatch_size = 50")))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	go func() { _, err := flow.Execute(ctx, p); ran <- err }()
	const chunks = 40
	for i := range chunks {
		env.Produce(t, in, msgs[i*len(msgs)/chunks:(i+1)*len(msgs)/chunks])
		time.Sleep(20 * time.Millisecond)
	}
	deadline := time.Now().Add(90 * time.Second)
	for len(env.ReadAll(t, liveOut)) < len(exp.Windows) || len(env.ReadAll(t, liveDLQ)) < len(exp.Late) {
		if time.Now().After(deadline) {
			t.Fatalf("live run: %d windows and %d dead letters after 90 s, want %d and %d", len(env.ReadAll(t, liveOut)), len(env.ReadAll(t, liveDLQ)), len(exp.Windows), len(exp.Late))
		}
		select {
		case err := <-ran:
			t.Fatalf("live run ended early: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	time.Sleep(500 * time.Millisecond) // nothing more may come
	cancel()
	if err := <-ran; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("live run: %v", err)
	}
	live := windowRecords(t, env, liveOut)
	if len(live) != len(exp.Windows) {
		t.Errorf("live run: %d window records, want each of the %d windows once", len(live), len(exp.Windows))
	}
	checkWindows(t, env, liveOut, exp, false)
	checkLate(t, env, liveDLQ, exp)

	// Backlog: all of it in the topic first, then a bounded run.
	in, out, dlq, group := topics()
	env.Produce(t, in, msgs)
	sum := runFile(t, writePipeline(t, t.TempDir(), windowPipeline(env, in, out, dlq, group, "batch_size = 200\nuntil = \"end\"\ntimeout_ms = 60000")))
	backlog := windowRecords(t, env, out)
	if !slices.Equal(backlog, live) {
		t.Errorf("backlog: %d window records, live: %d; they differ", len(backlog), len(live))
	}
	checkWindows(t, env, out, exp, false)
	checkLate(t, env, dlq, exp)
	for _, st := range sum.Stages {
		if st.ID == "count" && st.Late != int64(len(exp.Late)) {
			t.Errorf("stage summary: late=%d, want %d", st.Late, len(exp.Late))
		}
	}
	if sum.In != int64(len(msgs)) {
		t.Errorf("summary: in=%d, want the %d records of the source topic (not counting the repartition topic's)", sum.In, len(msgs))
	}
	rp := group + "-count-repartition"
	if ends := env.EndOffsets(t, rp); len(ends) != 6 {
		t.Errorf("repartition topic %s: %d partitions, want the source topic's 6", rp, len(ends))
	}
	assertCommittedToEnd(t, env, group, in)
	assertCommittedToEnd(t, env, rp, rp) // its reader's group is named as the topic
}

// dedupe.apply repartitions by its key: duplicates of an order written to
// other partitions than the first copy still meet in one lane, so exactly
// the distinct orders come out; with repartition = "never" they do not.
func TestIntegrationDedupeRepartitions(t *testing.T) {
	env := kafkatest.Start(t)
	const distinct = 2000
	var msgs []kafkatest.Msg
	for i := range distinct {
		id := fmt.Sprintf("o-%d", i)
		v := fmt.Appendf(nil, `{"order_id":%q,"ts":%d}`, id, 1_700_000_000_000+int64(i))
		msgs = append(msgs, kafkatest.Msg{Partition: int32(i % 3), Value: v})
		if i%5 == 0 { // a copy in the next partition
			msgs = append(msgs, kafkatest.Msg{Partition: int32((i + 1) % 3), Value: v})
		}
	}
	run := func(mode string) map[string]int {
		in, out, group := kafkatest.Name("orders"), kafkatest.Name("distinct"), kafkatest.Name("g")
		env.CreateTopic(t, in, 3)
		env.CreateTopic(t, out, 3)
		env.Produce(t, in, msgs)
		runFile(t, writePipeline(t, t.TempDir(), fmt.Sprintf(`
[[stages]]
id = "orders"
function = "kafka"
[stages.config]
brokers = %[1]q
topic = %[2]q
group_id = %[3]q
until = "end"
timeout_ms = 60000
batch_size = 100

[[stages]]
id = "dedupe"
function = "dedupe.apply"
inputs = ["orders"]
[stages.config]
key = "order_id"
time_field = "ts"
repartition = %[5]q

[[stages]]
id = "produce"
function = "kafka"
inputs = ["dedupe"]
[stages.config]
brokers = %[1]q
topic = %[4]q
`, env.BrokerList(), in, group, out, mode)))
		seen := map[string]int{}
		for _, m := range env.ReadAll(t, out) {
			id, _, _ := strings.Cut(strings.TrimPrefix(string(m.Value), `{"order_id":"`), `"`)
			seen[id]++
		}
		return seen
	}
	seen := run("auto")
	if len(seen) != distinct {
		t.Errorf("repartition = auto: %d distinct orders out, want %d", len(seen), distinct)
	}
	for _, id := range slices.Sorted(maps.Keys(seen)) {
		if seen[id] != 1 {
			t.Errorf("repartition = auto: order %s written %d times", id, seen[id])
		}
	}
	never := run("never")
	twice := 0
	for _, n := range never {
		if n > 1 {
			twice++
		}
	}
	if twice != distinct/5 {
		t.Errorf("repartition = never: %d orders written twice, want the %d whose copy is in another partition", twice, distinct/5)
	}
}

// A repartition topic that exists with another partition count than the
// source topic's is a clear error naming both, before anything is read.
func TestIntegrationRepartitionTopicMismatch(t *testing.T) {
	env := kafkatest.Start(t)
	in, out, dlq, group := kafkatest.Name("orders"), kafkatest.Name("windows"), kafkatest.Name("dlq"), kafkatest.Name("g")
	env.CreateTopic(t, in, 6)
	env.CreateTopic(t, out, 6)
	env.CreateTopic(t, dlq, 1)
	env.CreateTopic(t, group+"-count-repartition", 3)
	p, err := config.Load(writePipeline(t, t.TempDir(), windowPipeline(env, in, out, dlq, group, "until = \"end\"\ntimeout_ms = 20000")))
	if err != nil {
		t.Fatal(err)
	}
	_, err = flow.Execute(context.Background(), p)
	want := fmt.Sprintf(`repartition topic %q has 3 partitions, the source topic %q 6`, group+"-count-repartition", in)
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), `stage "count"`) {
		t.Fatalf("error %v, want one naming the stage and saying %s", err, want)
	}
}

// rewindGroup commits offset 0 for every partition of topic in group, as
// if the group had crashed after writing everything downstream and before
// committing any of it.
func rewindGroup(t *testing.T, env kafkatest.Env, group, topic string) {
	t.Helper()
	client, err := sarama.NewClient(env.Brokers, sarama.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	om, err := sarama.NewOffsetManagerFromClient(group, client)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := client.Partitions(topic)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		pom, err := om.ManagePartition(topic, p)
		if err != nil {
			t.Fatal(err)
		}
		pom.ResetOffset(0, "")
		pom.Close()
	}
	om.Commit()
	if err := om.Close(); err != nil {
		t.Fatal(err)
	}
	if c := env.Committed(t, group, topic); c[0] != 0 {
		t.Fatalf("committed %v after the rewind, want 0", c)
	}
}

// At-least-once through a repartition: when the source is read again from
// offsets already written to the repartition topic (a crash between the
// write and the commit; here every offset of the source is rewound), the
// records are written to the topic a second time and the reader skips
// them by their input offset: no window is counted twice or emitted
// again, no late record dead-lettered twice.
func TestIntegrationRepartitionSkipsReplayedInput(t *testing.T) {
	env := kafkatest.Start(t)
	cfg := ordergen.Config{Records: raceScaled(6000), Partitions: 3, Seed: 33, Size: 10000, Grace: 5000}
	evs := ordergen.Generate(cfg)
	exp := ordergen.Reference(evs, cfg.Size, cfg.Grace)
	msgs := ordersByID(evs, 3)
	in, out, dlq, group := kafkatest.Name("orders"), kafkatest.Name("windows"), kafkatest.Name("dlq"), kafkatest.Name("g")
	env.CreateTopic(t, in, 3)
	env.CreateTopic(t, out, 3)
	env.CreateTopic(t, dlq, 1)
	env.Produce(t, in, msgs)
	pipeline := writePipeline(t, t.TempDir(), windowPipeline(env, in, out, dlq, group, "batch_size = 100\nuntil = \"end\"\ntimeout_ms = 60000"))
	runFile(t, pipeline)
	first := windowRecords(t, env, out)
	checkWindows(t, env, out, exp, false)
	checkLate(t, env, dlq, exp)

	rewindGroup(t, env, group, in)
	sum := runFile(t, pipeline)
	if again := windowRecords(t, env, out); !slices.Equal(again, first) {
		t.Errorf("after reading the source again: %d window records, want the %d of the first run, unchanged", len(again), len(first))
	}
	checkLate(t, env, dlq, exp)
	if sum.In != int64(len(msgs)) || sum.Out != 0 || sum.Filtered != int64(len(msgs)) {
		t.Errorf("second run: in=%d out=%d filtered=%d, want in=%d out=0 and every record filtered (processed already)", sum.In, sum.Out, sum.Filtered, len(msgs))
	}
	rp := group + "-count-repartition"
	total := int64(0)
	for _, end := range env.EndOffsets(t, rp) {
		total += end
	}
	if total < 2*int64(len(msgs)) {
		t.Errorf("repartition topic holds %d messages, want each record twice (%d) and the mark records", total, 2*len(msgs))
	}
}

// waitMembers waits until group is stable with n members.
func waitMembers(t *testing.T, env kafkatest.Env, group string, n int) {
	t.Helper()
	admin, err := sarama.NewClusterAdmin(env.Brokers, sarama.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		ds, err := admin.DescribeConsumerGroups([]string{group})
		if err == nil && len(ds) == 1 && ds[0].State == "Stable" && len(ds[0].Members) == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("group %s: not stable with %d members after 60 s (%v)", group, n, err)
		}
	}
}

// Two instances share the group (and the repartition topic's group): each
// writes the input partitions it reads to every repartition partition,
// and each country's windows are counted by the one instance that reads
// its repartition partition, with the watermarks of the input partitions
// of both instances: each window comes out once, exact.
func TestIntegrationRepartitionTwoInstances(t *testing.T) {
	env := kafkatest.Start(t)
	parallelOnRealBroker(t, env)
	cfg := ordergen.Config{Records: raceScaled(12000), Partitions: 6, Seed: 41, Size: 10000, Grace: 5000}
	evs := ordergen.Generate(cfg)
	exp := ordergen.Reference(evs, cfg.Size, cfg.Grace)
	msgs := ordersByID(evs, 6)
	in, out, dlq, group := kafkatest.Name("orders"), kafkatest.Name("windows"), kafkatest.Name("dlq"), kafkatest.Name("g")
	env.CreateTopic(t, in, 6)
	env.CreateTopic(t, out, 6)
	env.CreateTopic(t, dlq, 1)
	p, err := config.Load(writePipeline(t, t.TempDir(), windowPipeline(env, in, out, dlq, group, "max_messages = 0\nbatch_size = 50")))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 2)
	for range 2 {
		go func() { _, err := flow.Execute(ctx, p); ran <- err }()
	}
	// Both members in both groups before any order, so that no input
	// partition moves while the orders stream.
	waitMembers(t, env, group, 2)
	waitMembers(t, env, group+"-count-repartition", 2)
	const chunks = 20
	for i := range chunks {
		env.Produce(t, in, msgs[i*len(msgs)/chunks:(i+1)*len(msgs)/chunks])
		time.Sleep(20 * time.Millisecond)
	}
	deadline := time.Now().Add(90 * time.Second)
	for len(env.ReadAll(t, out)) < len(exp.Windows) || len(env.ReadAll(t, dlq)) < len(exp.Late) {
		if time.Now().After(deadline) {
			t.Fatalf("%d windows and %d dead letters after 90 s, want %d and %d", len(env.ReadAll(t, out)), len(env.ReadAll(t, dlq)), len(exp.Windows), len(exp.Late))
		}
		select {
		case err := <-ran:
			t.Fatalf("an instance ended early: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	time.Sleep(500 * time.Millisecond)
	cancel()
	for range 2 {
		if err := <-ran; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("instance: %v", err)
		}
	}
	if got := len(windowRecords(t, env, out)); got != len(exp.Windows) {
		t.Errorf("%d window records, want each of the %d windows once", got, len(exp.Windows))
	}
	checkWindows(t, env, out, exp, false)
	checkLate(t, env, dlq, exp)
}

// Two stateful stages, each repartitioning by its own key: dedupe.apply
// by order id (copies in other partitions than the first), then
// window.aggregate by country, below the first's repartition topic. Each
// distinct order is counted once in its window; the run ends when both
// repartition topics are read to their ends.
func TestIntegrationRepartitionTwice(t *testing.T) {
	env := kafkatest.Start(t)
	cfg := ordergen.Config{Records: 6000, Partitions: 3, Seed: 51, Size: 10000, Grace: 5000, Late: 0.0001, OutOfOrder: 0.0001}
	evs := ordergen.Generate(cfg)
	var msgs []kafkatest.Msg
	want := map[ordergen.WindowKey]ordergen.Totals{}
	last := int64(math.MinInt64)
	for i, m := range ordergen.Messages(evs, false) {
		m.Key = nil
		msgs = append(msgs, m)
		if i%4 == 0 { // a copy in the next partition
			c := m
			c.Partition = (m.Partition + 1) % 3
			msgs = append(msgs, c)
		}
		e := evs[i]
		k := ordergen.WindowKey{Country: e.Country, Start: e.Time - e.Time%cfg.Size}
		tot := want[k]
		tot.Count++
		tot.Cents += e.Amount
		want[k] = tot
		last = max(last, e.Time)
	}
	for p := range 3 { // far ahead: closes every window
		closing := ordergen.Event{Partition: int32(p), OrderID: fmt.Sprintf("close-%d", p), Country: "ZZ", Amount: 1, UserID: "u", Time: last + 10*time.Hour.Milliseconds()}
		msgs = append(msgs, ordergen.Messages([]ordergen.Event{closing}, false)...)
	}
	in, out, group := kafkatest.Name("orders"), kafkatest.Name("windows"), kafkatest.Name("g")
	env.CreateTopic(t, in, 3)
	env.CreateTopic(t, out, 3)
	env.Produce(t, in, msgs)
	sum := runFile(t, writePipeline(t, t.TempDir(), fmt.Sprintf(`
[[stages]]
id = "orders"
function = "kafka"
[stages.config]
brokers = %[1]q
topic = %[2]q
group_id = %[3]q
until = "end"
timeout_ms = 60000
batch_size = 100

[[stages]]
id = "distinct"
function = "dedupe.apply"
inputs = ["orders"]
[stages.config]
key = "order_id"
time_field = "ts"

[[stages]]
id = "count"
function = "window.aggregate"
inputs = ["distinct"]
[stages.config]
group_by = ["country"]
time_field = "ts"
size_ms = 10000
grace_ms = 3600000
[stages.config.aggregates]
orders = "count()"
revenue = "sum(amount)"

[[stages]]
id = "produce"
function = "kafka"
inputs = ["count"]
[stages.config]
brokers = %[1]q
topic = %[4]q
`, env.BrokerList(), in, group, out)))
	if got := len(windowRecords(t, env, out)); got != len(want) {
		t.Errorf("%d window records, want each of the %d windows once", got, len(want))
	}
	checkWindows(t, env, out, ordergen.Expected{Windows: want}, false)
	if sum.In != int64(len(msgs)) || sum.Out+sum.Filtered != sum.In {
		t.Errorf("summary: in=%d out=%d filtered=%d, want in=%d = out + filtered (a batch of mark records that emits windows gives back what was counted filtered)", sum.In, sum.Out, sum.Filtered, len(msgs))
	}
	for _, rp := range []string{group + "-distinct-repartition", group + "-count-repartition"} {
		assertCommittedToEnd(t, env, rp, rp)
	}
}
