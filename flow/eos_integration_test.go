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

	"github.com/IBM/sarama"

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
func eosReport(t *testing.T, env kafkatest.Env, fault string, times int, in, out string) (committed int) {
	t.Helper()
	inputs := env.ReadAll(t, in)
	// an event the feed wrote twice (a retried chunk) is two input records,
	// each to come out once
	want := map[string]int{}
	passing := 0
	for _, m := range inputs {
		var e event
		if json.Unmarshal(m.Value, &e) == nil && e.Amount >= 100 {
			want[e.EventID]++
			passing++
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
		if want[d.EventID] == 0 {
			t.Fatalf("output %s should not have passed the filter", m.Value)
		}
		if seen[d.EventID]++; seen[d.EventID] > want[d.EventID] {
			dups++
		}
	}
	missing := 0
	for id, n := range want {
		missing += max(n-seen[id], 0)
	}
	var offsets int64
	for _, end := range env.EndOffsets(t, out) {
		offsets += end
	}
	if offsets <= int64(len(outputs)) {
		t.Errorf("the output holds no transaction markers (%d offsets for %d records): not written in transactions", offsets, len(outputs))
	}
	t.Logf("FAULT-TABLE | %s | %d | in %d (%d pass the filter) | out %d (read_committed) | missing %d | duplicates %d (allowed 0)",
		fault, times, len(inputs), passing, len(outputs), missing, dups)
	if missing != 0 || dups != 0 {
		t.Errorf("exactly-once broken: %d missing, %d duplicates", missing, dups)
	}
	return len(outputs)
}

// eosRun is an exactly-once test's input and output topics (6 partitions
// each, with topic configs), its group, the pipeline file for instance
// and the feed of records events spread over feedFor.
type eosRun struct {
	in, out, group, path string
	fed                  <-chan struct{}
}

func newEOSRun(t *testing.T, env kafkatest.Env, records int, feedFor time.Duration, instance string, configs ...string) eosRun {
	t.Helper()
	r := eosRun{in: kafkatest.Name("in"), out: kafkatest.Name("out"), group: kafkatest.Name("g")}
	env.CreateTopic(t, r.in, 6, configs...)
	env.CreateTopic(t, r.out, 6, configs...)
	msgs, _ := events(records)
	r.fed = feed(t, env, r.in, spread(msgs, 6), feedFor)
	r.path = writePipeline(t, t.TempDir(), eosETL(env, r.in, r.out, r.group, instance, "max_messages = 0\nsession_timeout_ms = 6000"))
	return r
}

// progress waits up to a minute for the group to commit more of the input.
func (r eosRun) progress(t *testing.T, env kafkatest.Env, what string) {
	t.Helper()
	if !waitProgress(t, env, r.group, r.in, env.Committed(t, r.group, r.in), 60*time.Second) {
		t.Fatalf("no progress %s", what)
	}
}

// A streaming exactly-once run, stopped with SIGTERM once it committed the
// whole input: every record out once, and the group's offsets committed by
// the transactions.
func TestIntegrationExactlyOnce(t *testing.T) {
	env := kafkatest.Start(t)
	r := newEOSRun(t, env, 20000, 4*time.Second, "solo")
	runUntilCommitted(t, env, r.group, r.in, r.fed, startProc(t, "solo", r.path))
	eosReport(t, env, "none (SIGTERM at the end)", 0, r.in, r.out)
}

// kill -9 at random moments while the pipeline works through a backlog;
// each restart (same group_instance_id, so the same transactional.id)
// aborts what its killed predecessor left open.
func TestFaultExactlyOnceCrashLoop(t *testing.T) {
	env := faultBroker(t, "broker")
	parallelOnRealBroker(t, env)
	records, kills := envInt("EOS_RECORDS", 200000), envInt("EOS_KILLS", 10)
	// built before the input is fed: a build that took longer than the
	// feed (minutes on a loaded machine) left the whole backlog to the
	// first runs, which drained it in fewer kills than asked
	buildConveyor(t)
	// fed over 4 s a kill: a restart, its first commit and up to 0.7 s
	// take about 3 s, and a run that drains the backlog before the last
	// kill ends the loop short of its kills (7 of 10 once transactions
	// grew under a backlog, fed over 2 s a kill)
	r := newEOSRun(t, env, records, time.Duration(kills)*4*time.Second, "i1")
	rnd := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3)) //nolint:gosec
	done := 0
	for ; done < kills; done++ {
		// Once the feed is over and the group committed all of it, a
		// restart has nothing to read and so commits nothing: no progress
		// to wait for, and no backlog to kill it in.
		if closed(r.fed) && committedToEnd(t, env, r.group, r.in) {
			t.Logf("the whole input is committed after %d kills: no backlog left for the other %d", done, kills-done)
			break
		}
		before := env.Committed(t, r.group, r.in)
		name := fmt.Sprintf("run-%d", done+1)
		p := startConveyor(t, name, r.path)
		if !waitProgress(t, env, r.group, r.in, before, 60*time.Second) {
			t.Fatalf("kill %d: %s committed no offset of %s within 60 s (committed %v, end offsets %v, exited: %v); its log follows",
				done+1, name, r.in, env.Committed(t, r.group, r.in), env.EndOffsets(t, r.in), p.exited())
		}
		time.Sleep(time.Duration(rnd.IntN(700)) * time.Millisecond)
		p.kill()
		t.Logf("kill %d: committed %v", done+1, env.Committed(t, r.group, r.in))
	}
	// a final run over nothing left would be stopped before it could take
	// SIGTERM (the signal's default action, not an exit 0)
	var final []*proc
	if !closed(r.fed) || !committedToEnd(t, env, r.group, r.in) {
		final = append(final, startConveyor(t, "final", r.path))
	}
	runUntilCommitted(t, env, r.group, r.in, r.fed, final...)
	eosReport(t, env, "kill -9 the pipeline (exactly-once, 6 partitions)", done, r.in, r.out)
}

// A killed instance can leave a transaction open with the group's offsets
// in it (TxnOffsetCommit) but not committed: until it ends, the group's
// offsets are unstable and a read_committed member fetches none. The
// restarted instance (same transactional.id) must abort it before it joins
// the group: it used to wait for its first batch, which needed those
// offsets, so it stood still until the broker timed the transaction out
// (TestFaultExactlyOnceCrashLoop when a kill landed in a commit). The open
// transaction here lasts 5 minutes unless aborted.
func TestIntegrationExactlyOnceRestartAbortsOpenOffsets(t *testing.T) {
	env := kafkatest.Start(t)
	instance := kafkatest.Name("i") // a transactional.id of its own on a broker kept between runs
	r := newEOSRun(t, env, 20000, 2*time.Second, instance)
	openOffsets(t, env, "conveyor-etl-test-"+instance, r.group, r.in)
	before := env.Committed(t, r.group, r.in)
	p := startProc(t, "restarted", r.path)
	if !waitProgress(t, env, r.group, r.in, before, 30*time.Second) {
		t.Fatal("the restarted instance committed nothing in 30 s: it did not abort its predecessor's transaction, whose offsets keep the group's unstable")
	}
	runUntilCommitted(t, env, r.group, r.in, r.fed, p)
	eosReport(t, env, "restart over a transaction left open with offsets in it (exactly-once)", 1, r.in, r.out)
}

// openOffsets leaves a transaction of txnID open (for 5 minutes) with
// offset 0 of each partition of topic sent for group, as a producer killed
// between TxnOffsetCommit and EndTxn does. The requests are made by hand:
// sarama's producer sends offsets only when it commits.
func openOffsets(t *testing.T, env kafkatest.Env, txnID, group, topic string) {
	t.Helper()
	client, err := sarama.NewClient(env.Brokers, kafkautil.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	tc, err := client.TransactionCoordinator(txnID)
	if err != nil {
		t.Fatal(err)
	}
	init, err := tc.InitProducerID(&sarama.InitProducerIDRequest{Version: 3, TransactionalID: &txnID,
		TransactionTimeout: 5 * time.Minute, ProducerID: -1, ProducerEpoch: -1})
	if err == nil && init.Err != sarama.ErrNoError {
		err = init.Err
	}
	if err != nil {
		t.Fatalf("InitProducerId: %v", err)
	}
	add, err := tc.AddOffsetsToTxn(&sarama.AddOffsetsToTxnRequest{Version: 3, TransactionalID: txnID,
		ProducerID: init.ProducerID, ProducerEpoch: init.ProducerEpoch, GroupID: group})
	if err == nil && add.Err != sarama.ErrNoError {
		err = add.Err
	}
	if err != nil {
		t.Fatalf("AddOffsetsToTxn: %v", err)
	}
	var offsets []*sarama.PartitionOffsetMetadata
	for part := range env.EndOffsets(t, topic) {
		offsets = append(offsets, &sarama.PartitionOffsetMetadata{Partition: part, Offset: 0, LeaderEpoch: -1})
	}
	gc, err := client.Coordinator(group)
	if err != nil {
		t.Fatal(err)
	}
	commit, err := gc.TxnOffsetCommit(&sarama.TxnOffsetCommitRequest{Version: 3, TransactionalID: txnID, GroupID: group,
		ProducerID: init.ProducerID, ProducerEpoch: init.ProducerEpoch, GenerationID: -1,
		Topics: map[string][]*sarama.PartitionOffsetMetadata{topic: offsets}})
	if err != nil {
		t.Fatalf("TxnOffsetCommit: %v", err)
	}
	for _, pe := range commit.Topics[topic] {
		if pe.Err != sarama.ErrNoError {
			t.Fatalf("TxnOffsetCommit partition %d: %v", pe.Partition, pe.Err)
		}
	}
}

// The one-node broker is restarted while an exactly-once pipeline streams:
// the open transaction aborts, the pipeline rewinds and carries on.
func TestFaultExactlyOnceBrokerRestart(t *testing.T) {
	env := faultBroker(t, "broker")
	r := newEOSRun(t, env, 60000, 20*time.Second, "i1")
	p := startConveyor(t, "eos", r.path)
	r.progress(t, env, "")
	kafkaSh(t, "node", "stop", "1")
	time.Sleep(3 * time.Second)
	kafkaSh(t, "node", "start", "1")
	runUntilCommitted(t, env, r.group, r.in, r.fed, p)
	eosReport(t, env, "one-node broker restart (exactly-once)", 1, r.in, r.out)
}

// A frozen instance (SIGSTOP) loses its partitions to a second instance;
// resumed, its open transaction cannot commit (its group generation is
// over) and nothing it wrote there becomes visible. Then a third instance
// joins and leaves while transactions are open (rebalances). Transactions
// of 2 s over a backlog make sure A is frozen with one open.
func TestFaultExactlyOnceZombieAndRebalance(t *testing.T) {
	env := faultBroker(t, "broker")
	parallelOnRealBroker(t, env)
	// fed over 30 s, so that transactions are open through C's join and
	// leave: fed over 4 s, the whole input was committed before C came
	r := newEOSRun(t, env, 120000, 30*time.Second, "${CONVEYOR_MEMBER}")
	slow := strings.Replace(readFile(t, r.path), "guarantee = \"exactly-once\"\n", "guarantee = \"exactly-once\"\ntransaction_ms = 2000\ntransaction_records = 1000000\n", 1)
	r.path = writePipeline(t, t.TempDir(), slow)
	a := startProc(t, "A", r.path)
	r.progress(t, env, "")
	time.Sleep(time.Second) // A's next transaction is open, with records in it
	freeze(t, a)
	t.Log("A frozen (SIGSTOP)")
	frozen := env.Committed(t, r.group, r.in)
	b := startProc(t, "B", r.path)
	time.Sleep(12 * time.Second) // A's session times out; B takes every partition
	// B commits past what A had (it may have done so within the sleep)
	if !waitProgress(t, env, r.group, r.in, frozen, 60*time.Second) {
		t.Fatalf("no progress by B: committed %v, as when A was frozen", frozen)
	}
	thaw(t, a)
	t.Log("A resumed (SIGCONT)")
	time.Sleep(4 * time.Second)
	c := startProc(t, "C", r.path)
	t.Log("C joined")
	time.Sleep(5 * time.Second)
	if _, err := c.stop(60 * time.Second); err != nil {
		t.Errorf("C: %v", err)
	}
	t.Log("C left")
	runUntilCommitted(t, env, r.group, r.in, r.fed, a, b)
	committed := eosReport(t, env, "SIGSTOP an instance, another takes over, resume it; a third joins then leaves (exactly-once, 2 s transactions)", 1, r.in, r.out)
	raw, err := kafkautil.ReadUntilIdle(env.Brokers, r.out, 3*time.Second, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("read_uncommitted: %d records, of which %d of aborted transactions (the frozen instance's among them)", len(raw), len(raw)-committed)
	if len(raw) <= committed {
		t.Error("no aborted records in the output: the frozen instance had no open transaction, so the test did not test fencing")
	}
}

// readFile is the file's text.
func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// On the three-node cluster, the broker leading most partitions is killed
// (-9) while an exactly-once pipeline streams, and brought back.
func TestFaultClusterExactlyOnceLeaderKill(t *testing.T) {
	env := faultBroker(t, "cluster")
	r := newEOSRun(t, env, 60000, 20*time.Second, "i1", "min.insync.replicas", "2")
	p := startConveyor(t, "eos", r.path)
	r.progress(t, env, "")
	leader, n := leaderOfMost(t, env, r.in)
	kafkaSh(t, "node", "kill", strconv.Itoa(int(leader)))
	t.Logf("killed node %d, leader of %d partitions of %s", leader, n, r.in)
	time.Sleep(5 * time.Second)
	kafkaSh(t, "node", "start", strconv.Itoa(int(leader)))
	runUntilCommitted(t, env, r.group, r.in, r.fed, p)
	eosReport(t, env, "kill -9 the leaders' broker of three (exactly-once)", 1, r.in, r.out)
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
	// It failed 1 run in 4 on real Kafka until A stopped rebuilding its
	// producer after any sign of a fence (B exited "fenced, error code 90":
	// A's rebuild had taken the transactional.id back); see
	// connectors/kafka TestTxnAbortNeverRebuildsAFencedProducer.
	env := kafkatest.Start(t)
	r := newEOSRun(t, env, 30000, 6*time.Second, "same")
	a := startProc(t, "A", r.path)
	r.progress(t, env, "")
	b := startProc(t, "B", r.path)
	select {
	case <-a.done:
	case <-time.After(60 * time.Second):
		t.Fatal("A still runs 60 s after B took its transactional.id")
	}
	if a.err == nil {
		t.Fatal("A exited 0 after it was fenced, want an error")
	}
	t.Logf("A exited: %v", a.err)
	runUntilCommitted(t, env, r.group, r.in, r.fed, b)
	eosReport(t, env, "a second live instance with the same group_instance_id fences the first (exactly-once)", 1, r.in, r.out)
}

// closed tells whether ch is closed, without waiting.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
