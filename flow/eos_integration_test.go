package flow_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/conveyor-etl/conveyor/internal/kafkatest"
	"github.com/conveyor-etl/conveyor/internal/kafkautil"
)

// The exactly-once tests run Example 3's shape (kafka, filter, kafka) with
// guarantee = "exactly-once" and count the output as a read_committed
// consumer sees it: every record that passes the filter exactly once,
// whatever happened to the pipeline or the broker on the way. The fault
// ones need a real broker they may break (KAFKA_FAULTS, see faultBroker);
// EOS_RECORDS and EOS_KILLS size the kill -9 loop (CI: 200,000 and 10).

// eosETL is etl under exactly-once; instance is the group_instance_id
// ("${CONVEYOR_MEMBER}" for the process's name).
func eosETL(env kafkatest.Env, in, out, group, instance, extra string) string {
	return strings.Replace(etl(env, in, out, group, fmt.Sprintf("group_instance_id = %q\n%s", instance, extra)),
		"name = \"etl-test\"\n", "name = \"etl-test\"\nguarantee = \"exactly-once\"\n", 1)
}

// eosReport counts the output topic as a read_committed consumer reads it
// against the input, logs a row of the fault table and fails on any
// record missing or duplicated.
func eosReport(t *testing.T, env kafkatest.Env, fault string, times int, in, out string) {
	t.Helper()
	inputs := env.ReadAll(t, in)
	want := map[string]bool{}
	for _, m := range inputs {
		var e event
		if json.Unmarshal(m.Value, &e) == nil && e.Amount >= 100 {
			want[e.EventID] = true
		}
	}
	outputs, err := kafkautil.ReadUntilIdle(env.Brokers, out, 3*time.Second, true)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	dups := 0
	for _, m := range outputs {
		d := decode(t, m.Value)
		if !want[d.EventID] {
			t.Fatalf("output %s should not have passed the filter", m.Value)
		}
		if seen[d.EventID]++; seen[d.EventID] > 1 {
			dups++
		}
	}
	missing := len(want) - len(seen)
	var offsets int64
	for _, end := range env.EndOffsets(t, out) {
		offsets += end
	}
	if offsets <= int64(len(outputs)) {
		t.Errorf("the output holds no transaction markers (%d offsets for %d records): not written in transactions", offsets, len(outputs))
	}
	t.Logf("FAULT-TABLE | %s | %d | in %d (%d pass the filter) | out %d (read_committed) | missing %d | duplicates %d (allowed 0)",
		fault, times, len(inputs), len(want), len(outputs), missing, dups)
	if missing != 0 || dups != 0 {
		t.Errorf("exactly-once broken: %d missing, %d duplicates", missing, dups)
	}
}

// A streaming exactly-once run, stopped with SIGTERM once it committed the
// whole input: every record out once, and the group's offsets committed by
// the transactions.
func TestIntegrationExactlyOnce(t *testing.T) {
	env := kafkatest.Start(t)
	in, out, group := kafkatest.Name("in"), kafkatest.Name("out"), kafkatest.Name("g")
	env.CreateTopic(t, in, 6)
	env.CreateTopic(t, out, 6)
	msgs, _ := events(20000)
	fed := feed(t, env, in, spread(msgs, 6), 4*time.Second)
	path := writePipeline(t, t.TempDir(), eosETL(env, in, out, group, "solo", "max_messages = 0\nsession_timeout_ms = 6000"))
	runUntilCommitted(t, env, group, in, fed, startProc(t, "solo", path))
	eosReport(t, env, "none (SIGTERM at the end)", 0, in, out)
}

// kill -9 at random moments while the pipeline works through a backlog;
// each restart (same group_instance_id, so the same transactional.id)
// aborts what its killed predecessor left open.
func TestFaultExactlyOnceCrashLoop(t *testing.T) {
	env := faultBroker(t, "broker")
	records, kills := envInt("EOS_RECORDS", 200000), envInt("EOS_KILLS", 10)
	in, out, group := kafkatest.Name("in"), kafkatest.Name("out"), kafkatest.Name("g")
	env.CreateTopic(t, in, 6)
	env.CreateTopic(t, out, 6)
	msgs, _ := events(records)
	fed := feed(t, env, in, spread(msgs, 6), time.Duration(kills)*2*time.Second)
	path := writePipeline(t, t.TempDir(), eosETL(env, in, out, group, "i1", "max_messages = 0\nsession_timeout_ms = 6000"))
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3)) //nolint:gosec
	for i := 0; i < kills; i++ {
		before := env.Committed(t, group, in)
		p := startConveyor(t, fmt.Sprintf("run-%d", i+1), path)
		if !waitProgress(t, env, group, in, before, 60*time.Second) {
			t.Fatalf("kill %d: the restarted pipeline made no progress", i+1)
		}
		time.Sleep(time.Duration(r.IntN(700)) * time.Millisecond)
		p.kill()
		t.Logf("kill %d: committed %v", i+1, env.Committed(t, group, in))
	}
	runUntilCommitted(t, env, group, in, fed, startConveyor(t, "final", path))
	eosReport(t, env, "kill -9 the pipeline (exactly-once, 6 partitions)", kills, in, out)
}

// The one-node broker is restarted while an exactly-once pipeline streams:
// the open transaction aborts, the pipeline rewinds and carries on.
func TestFaultExactlyOnceBrokerRestart(t *testing.T) {
	env := faultBroker(t, "broker")
	in, out, group := kafkatest.Name("in"), kafkatest.Name("out"), kafkatest.Name("g")
	env.CreateTopic(t, in, 6)
	env.CreateTopic(t, out, 6)
	msgs, _ := events(60000)
	fed := feed(t, env, in, spread(msgs, 6), 20*time.Second)
	path := writePipeline(t, t.TempDir(), eosETL(env, in, out, group, "i1", "max_messages = 0\nsession_timeout_ms = 6000"))
	p := startConveyor(t, "eos", path)
	if !waitProgress(t, env, group, in, env.Committed(t, group, in), 60*time.Second) {
		t.Fatal("no progress")
	}
	kafkaSh(t, "node", "stop", "1")
	time.Sleep(3 * time.Second)
	kafkaSh(t, "node", "start", "1")
	runUntilCommitted(t, env, group, in, fed, p)
	eosReport(t, env, "one-node broker restart (exactly-once)", 1, in, out)
}

// A frozen instance (SIGSTOP) loses its partitions to a second instance;
// resumed, it is fenced (its generation is over) and nothing it wrote in
// its open transaction becomes visible. Then a third instance joins and
// leaves while transactions are open (rebalances).
func TestFaultExactlyOnceZombieAndRebalance(t *testing.T) {
	env := faultBroker(t, "broker")
	in, out, group := kafkatest.Name("in"), kafkatest.Name("out"), kafkatest.Name("g")
	env.CreateTopic(t, in, 6)
	env.CreateTopic(t, out, 6)
	msgs, _ := events(120000)
	fed := feed(t, env, in, spread(msgs, 6), 30*time.Second)
	path := writePipeline(t, t.TempDir(), eosETL(env, in, out, group, "${CONVEYOR_MEMBER}", "max_messages = 0\nsession_timeout_ms = 6000"))
	a := startProc(t, "A", path)
	if !waitProgress(t, env, group, in, env.Committed(t, group, in), 60*time.Second) {
		t.Fatal("no progress")
	}
	freeze(t, a)
	t.Log("A frozen (SIGSTOP)")
	b := startProc(t, "B", path)
	time.Sleep(12 * time.Second) // A's session times out; B takes every partition
	if !waitProgress(t, env, group, in, env.Committed(t, group, in), 60*time.Second) {
		t.Fatal("no progress by B")
	}
	thaw(t, a)
	t.Log("A resumed (SIGCONT)")
	time.Sleep(4 * time.Second)
	c := startProc(t, "C", path)
	t.Log("C joined")
	time.Sleep(5 * time.Second)
	if _, err := c.stop(60 * time.Second); err != nil {
		t.Errorf("C: %v", err)
	}
	t.Log("C left")
	runUntilCommitted(t, env, group, in, fed, a, b)
	eosReport(t, env, "SIGSTOP an instance, another takes over, resume it; a third joins then leaves (exactly-once)", 1, in, out)
}

// On the three-node cluster, the broker leading most partitions is killed
// (-9) while an exactly-once pipeline streams, and brought back.
func TestFaultClusterExactlyOnceLeaderKill(t *testing.T) {
	env := faultBroker(t, "cluster")
	in, out, group := kafkatest.Name("in"), kafkatest.Name("out"), kafkatest.Name("g")
	env.CreateTopic(t, in, 6, "min.insync.replicas", "2")
	env.CreateTopic(t, out, 6, "min.insync.replicas", "2")
	msgs, _ := events(60000)
	fed := feed(t, env, in, spread(msgs, 6), 20*time.Second)
	path := writePipeline(t, t.TempDir(), eosETL(env, in, out, group, "i1", "max_messages = 0\nsession_timeout_ms = 6000"))
	p := startConveyor(t, "eos", path)
	if !waitProgress(t, env, group, in, env.Committed(t, group, in), 60*time.Second) {
		t.Fatal("no progress")
	}
	leader, n := leaderOfMost(t, env, in)
	kafkaSh(t, "node", "kill", strconv.Itoa(int(leader)))
	t.Logf("killed node %d, leader of %d partitions of %s", leader, n, in)
	time.Sleep(5 * time.Second)
	kafkaSh(t, "node", "start", strconv.Itoa(int(leader)))
	runUntilCommitted(t, env, group, in, fed, p)
	eosReport(t, env, "kill -9 the leaders' broker of three (exactly-once)", 1, in, out)
}

func freeze(t *testing.T, p *proc) {
	t.Helper()
	if err := p.cmd.Process.Signal(sigStop); err != nil {
		t.Fatal(err)
	}
}

func thaw(t *testing.T, p *proc) {
	t.Helper()
	if err := p.cmd.Process.Signal(sigCont); err != nil {
		t.Fatal(err)
	}
}

// envInt is the environment variable name as a number, or def.
func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

var sigStop, sigCont = syscall.SIGSTOP, syscall.SIGCONT

// Two live instances with the same group_instance_id (so the same
// transactional.id): the one started second fences the first, which stops
// with an error saying so instead of rebuilding its producer in a loop;
// the survivor finishes the input exactly once.
func TestIntegrationExactlyOnceFencedSibling(t *testing.T) {
	env := kafkatest.Start(t)
	in, out, group := kafkatest.Name("in"), kafkatest.Name("out"), kafkatest.Name("g")
	env.CreateTopic(t, in, 6)
	env.CreateTopic(t, out, 6)
	msgs, _ := events(30000)
	fed := feed(t, env, in, spread(msgs, 6), 6*time.Second)
	path := writePipeline(t, t.TempDir(), eosETL(env, in, out, group, "same", "max_messages = 0\nsession_timeout_ms = 6000"))
	a := startProc(t, "A", path)
	if !waitProgress(t, env, group, in, env.Committed(t, group, in), 60*time.Second) {
		t.Fatal("no progress")
	}
	b := startProc(t, "B", path)
	select {
	case <-a.done:
	case <-time.After(60 * time.Second):
		t.Fatal("A still runs 60 s after B took its transactional.id")
	}
	if a.err == nil {
		t.Fatal("A exited 0 after it was fenced, want an error")
	}
	t.Logf("A exited: %v", a.err)
	runUntilCommitted(t, env, group, in, fed, b)
	eosReport(t, env, "a second live instance with the same group_instance_id fences the first (exactly-once)", 1, in, out)
}
