package flow_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/conveyor-etl/conveyor/internal/kafkatest"
)

// etl is Example 3's shape with names, limits and batching as given.
func etl(env kafkatest.Env, in, out, group, extra string) string {
	return fmt.Sprintf(`
[pipeline]
name = "etl-test"

[[stages]]
id = "consume"
function = "kafka"
inputs = []
[stages.config]
brokers = %q
topic = %q
group_id = %q
%s

[[stages]]
id = "filter"
function = "filter.apply"
inputs = ["consume"]
[stages.config]
column = "amount"
operator = ">="
value = "100"

[[stages]]
id = "produce"
function = "kafka"
inputs = ["filter"]
[stages.config]
brokers = %q
topic = %q
key_field = "user_id"
`, env.BrokerList(), in, group, extra, env.BrokerList(), out)
}

// A bounded run with fewer records than max_messages ends at timeout_ms,
// having written and committed what it read.
func TestIntegrationBoundedTimeout(t *testing.T) {
	env := kafkatest.Start(t)
	in, out, group := kafkatest.Name("in"), kafkatest.Name("out"), kafkatest.Name("g")
	env.CreateTopic(t, in, 3)
	env.CreateTopic(t, out, 3)
	msgs, _ := events(10)
	for i := range msgs {
		msgs[i].Value = []byte(fmt.Sprintf(`{"event_id":"t-%d","user_id":1,"amount":%d}`, i, 95+i)) // 5 of 10 pass
	}
	env.Produce(t, in, msgs)
	start := time.Now()
	sum := runFile(t, writePipeline(t, t.TempDir(), etl(env, in, out, group, `timeout_ms = "2500"`)))
	elapsed := time.Since(start)
	if elapsed < 2500*time.Millisecond || elapsed > 20*time.Second {
		t.Errorf("run took %s; want it to end at the 2.5 s timeout", elapsed)
	}
	if sum.In != 10 || sum.Out != 5 {
		t.Errorf("summary %s; want in=10 out=5", sum)
	}
	assertCommittedToEnd(t, env, group, in)
}

// A bounded run stops at exactly max_messages, across partitions, and
// commits no further than what it wrote.
func TestIntegrationBoundedCount(t *testing.T) {
	env := kafkatest.Start(t)
	in, out, group := kafkatest.Name("in"), kafkatest.Name("out"), kafkatest.Name("g")
	env.CreateTopic(t, in, 3)
	env.CreateTopic(t, out, 3)
	msgs, _ := events(3000)
	env.Produce(t, in, msgs)
	path := writePipeline(t, t.TempDir(), etl(env, in, out, group, "max_messages = 1234\nbatch_size = 100"))
	sum := runFile(t, path)
	if sum.In != 1234 {
		t.Fatalf("read %d records, want exactly 1234", sum.In)
	}
	var committed int64
	for _, off := range env.Committed(t, group, in) {
		committed += max(off, 0)
	}
	if committed != 1234 {
		t.Errorf("committed %d records' worth of offsets, want 1234", committed)
	}
	// The next bounded run takes the rest, and together they cover the
	// input exactly once.
	runFile(t, writePipeline(t, t.TempDir(), etl(env, in, out, group, "max_messages = 1766")))
	assertCommittedToEnd(t, env, group, in)
	assertOutput(t, env, out, msgs, 0)
}

// assertOutput checks that every input passing the filter is in out, and
// that no more than maxDup records are duplicates (maxDup < 0: any number);
// it returns the number of duplicates.
func assertOutput(t *testing.T, env kafkatest.Env, out string, inputs []kafkatest.Msg, maxDup int) int {
	t.Helper()
	st := outputStats(t, env, out, inputs)
	t.Logf("expected %d distinct records: %d missing, %d duplicates", st.want, st.missing, st.dups)
	if st.missing > 0 {
		t.Errorf("%d records missing from the output", st.missing)
	}
	if maxDup >= 0 && st.dups > maxDup {
		t.Errorf("%d duplicates, want at most %d", st.dups, maxDup)
	}
	return st.dups
}

// stats compares an output topic with the inputs that pass the filter. An
// output record is a duplicate when its event_id appears more often in the
// output than in the input (the tests that retry producing can write an
// input twice).
type stats struct{ want, out, missing, dups int }

func outputStats(t *testing.T, env kafkatest.Env, out string, inputs []kafkatest.Msg) stats {
	t.Helper()
	want := map[string]int{}
	for _, m := range inputs {
		var e event
		if json.Unmarshal(m.Value, &e) == nil && e.Amount >= 100 {
			want[e.EventID]++
		}
	}
	seen := map[string]int{}
	st := stats{want: len(want)}
	for _, m := range env.ReadAll(t, out) {
		d := decode(t, m.Value)
		if want[d.EventID] == 0 {
			t.Fatalf("output %s should not have passed the filter", m.Value)
		}
		st.out++
		if seen[d.EventID]++; seen[d.EventID] > want[d.EventID] {
			st.dups++
		}
	}
	for id := range want {
		if seen[id] == 0 {
			st.missing++
		}
	}
	return st
}

// waitProgress waits until the group's committed offsets differ from before.
func waitProgress(t *testing.T, env kafkatest.Env, group, topic string, before map[int32]int64, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		now := env.Committed(t, group, topic)
		for p, off := range now {
			if off != before[p] {
				return true
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// waitCommitted waits until the group has committed the whole input.
func waitCommitted(t *testing.T, env kafkatest.Env, group, topic string, timeout time.Duration) bool {
	ends := env.EndOffsets(t, topic)
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		c := env.Committed(t, group, topic)
		done := true
		for p, end := range ends {
			if c[p] != end {
				done = false
			}
		}
		if done {
			return true
		}
		time.Sleep(200 * time.Millisecond)
	}
	return false
}

// Kill -9 a streaming run at random moments, restart it each time: nothing
// that passes the filter is missing, and duplicates stay within one window
// of batches per partition per crash.
func TestIntegrationAtLeastOnceAcrossKills(t *testing.T) {
	noRaceChaos(t)
	env := kafkatest.Start(t)
	parallelOnRealBroker(t, env)
	in, out, group := kafkatest.Name("in"), kafkatest.Name("out"), kafkatest.Name("g")
	env.CreateTopic(t, in, 3)
	env.CreateTopic(t, out, 3)
	msgs, _ := events(60000)
	produced := feed(t, env, in, msgs, 20*time.Second)
	const batch, window, parts = 200, 4, 3
	path := writePipeline(t, t.TempDir(), etl(env, in, out, group,
		fmt.Sprintf("max_messages = 0\nbatch_size = %d\nwindow = %d\nsession_timeout_ms = 6000", batch, window)))
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1)) //nolint:gosec
	const kills = 3
	for i := 0; i < kills; i++ {
		before := env.Committed(t, group, in)
		cmd := startChild(t, path)
		// Kill mid-stream: once this process has committed something, at a
		// random moment within the next 0.6 s.
		if !waitProgress(t, env, group, in, before, 60*time.Second) {
			t.Logf("kill %d: no progress seen before killing", i+1)
		}
		time.Sleep(time.Duration(r.IntN(600)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		t.Logf("kill %d: committed %v", i+1, env.Committed(t, group, in))
	}
	cmd := startChild(t, path)
	<-produced
	if !waitCommitted(t, env, group, in, 90*time.Second) {
		_ = cmd.Process.Kill()
		t.Fatalf("the restarted run did not commit the whole input")
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("graceful stop after the kills: %v", err)
	}
	dups := assertOutput(t, env, out, msgs, kills*parts*window*batch)
	t.Logf("%d kills: %d duplicates (bound %d)", kills, dups, kills*parts*window*batch)
}

// SIGTERM drains and commits: a restart produces no duplicates at all.
func TestIntegrationGracefulStopNoDuplicates(t *testing.T) {
	env := kafkatest.Start(t)
	in, out, group := kafkatest.Name("in"), kafkatest.Name("out"), kafkatest.Name("g")
	env.CreateTopic(t, in, 3)
	env.CreateTopic(t, out, 3)
	msgs, _ := events(40000)
	produced := feed(t, env, in, msgs, 4*time.Second)
	path := writePipeline(t, t.TempDir(), etl(env, in, out, group, "max_messages = 0\nbatch_size = 100\nsession_timeout_ms = 6000"))
	cmd := startChild(t, path)
	time.Sleep(2 * time.Second)
	start := time.Now()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("SIGTERM: exit %v, want 0", err)
	}
	took := time.Since(start)
	t.Logf("stopped %s after SIGTERM; committed %v", took.Round(time.Millisecond), env.Committed(t, group, in))
	if took > 15*time.Second {
		t.Errorf("SIGTERM took %s to drain and exit; want it within drain_timeout_ms (10 s) and a little", took)
	}
	cmd = startChild(t, path)
	<-produced
	time.Sleep(time.Second) // let the child install its signal handler
	if !waitCommitted(t, env, group, in, 60*time.Second) {
		_ = cmd.Process.Kill()
		t.Fatal("the second run did not finish the input")
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("second SIGTERM: %v", err)
	}
	faultReport(t, env, "SIGTERM mid-stream, then restart", 1, in, out, 0)
}

// Fan-in (two topics into one filter) and fan-out (the filter into a topic
// and a file): each branch gets every passing record of both inputs.
func TestIntegrationFanInFanOut(t *testing.T) {
	env := kafkatest.Start(t)
	a, b, out, group := kafkatest.Name("a"), kafkatest.Name("b"), kafkatest.Name("out"), kafkatest.Name("g")
	for _, tp := range []string{a, b, out} {
		env.CreateTopic(t, tp, 3)
	}
	ma, _ := events(600)
	mb, _ := events(900)
	for i := range mb {
		mb[i].Value = []byte(fmt.Sprintf(`{"event_id":"b-%d","user_id":%d,"amount":%d}`, i, i%5, i%250))
	}
	env.Produce(t, a, ma)
	env.Produce(t, b, mb)
	dir := t.TempDir()
	text := fmt.Sprintf(`
[[stages]]
id = "a"
function = "kafka"
[stages.config]
brokers = %[1]q
topic = %[2]q
group_id = %[4]q
max_messages = 600
[[stages]]
id = "b"
function = "kafka"
[stages.config]
brokers = %[1]q
topic = %[3]q
group_id = %[4]q
max_messages = 900
[[stages]]
id = "big"
function = "filter.apply"
inputs = ["a", "b"]
[stages.config]
column = "amount"
operator = ">="
value = 100
[[stages]]
id = "to-kafka"
function = "kafka"
inputs = ["big"]
[stages.config]
brokers = %[1]q
topic = %[5]q
key_field = "user_id"
[[stages]]
id = "to-file"
function = "json.write"
inputs = ["big"]
[stages.config]
path = "out.jsonl"
format = "jsonl"
`, env.BrokerList(), a, b, group, out)
	sum := runFile(t, writePipeline(t, dir, text))
	// Both sources are members of one group: one finishing while the other
	// joins rebalances it after the first stopped. Its acked offsets must
	// still be committed (they used to be dropped with the old session).
	assertCommittedToEnd(t, env, group, a)
	assertCommittedToEnd(t, env, group, b)
	want := 300 + 500 // amounts cycle 0..249: 300 of a's 600 and 500 of b's 900 are >= 100
	got := env.ReadAll(t, out)
	if len(got) != want {
		t.Errorf("topic branch has %d records, want %d", len(got), want)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "out.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := 0
	for _, c := range raw {
		if c == '\n' {
			lines++
		}
	}
	if lines != want {
		t.Errorf("file branch has %d records, want %d", lines, want)
	}
	if sum.In != 1500 || sum.Out != int64(2*want) {
		t.Errorf("summary %s; want in=1500 out=%d", sum, 2*want)
	}
}

// delivery = "per-message" (stock watermill-kafka) moves the same records.
func TestIntegrationPerMessageDelivery(t *testing.T) {
	env := kafkatest.Start(t)
	in, out, group := kafkatest.Name("in"), kafkatest.Name("out"), kafkatest.Name("g")
	env.CreateTopic(t, in, 3)
	env.CreateTopic(t, out, 3)
	msgs, _ := events(300)
	env.Produce(t, in, msgs)
	text := etl(env, in, out, group, `max_messages = 300
delivery = "per-message"`)
	text = text[:len(text)-1] + "\ndelivery = \"per-message\"\n"
	runFile(t, writePipeline(t, t.TempDir(), text))
	assertOutput(t, env, out, msgs, 0)
	if !waitCommitted(t, env, group, in, 10*time.Second) {
		t.Errorf("per-message run did not commit to the end: %v", env.Committed(t, group, in))
	}
}
