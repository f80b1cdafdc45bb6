package flow_test

import (
	"testing"
	"time"

	"github.com/conveyor-etl/conveyor/internal/kafkatest"
)

// untilEnd is how the tests bound a run by the end offsets: until = "end",
// max_messages unset, and a timeout far beyond what the run should take.
const untilEnd = "until = \"end\"\ntimeout_ms = 20000\nbatch_size = 100"

// runUntilEnd runs Example 3's shape with until = "end" and checks it read
// want records well within timeout_ms.
func runUntilEnd(t *testing.T, env kafkatest.Env, in, out, group string, want int64) {
	t.Helper()
	start := time.Now()
	sum := runFile(t, writePipeline(t, t.TempDir(), etl(env, in, out, group, untilEnd)))
	if took := time.Since(start); took > 8*time.Second {
		t.Errorf("run took %s; want it to stop once caught up, well before timeout_ms (20 s)", took)
	}
	if sum.In != want {
		t.Errorf("summary %s; want in=%d", sum, want)
	}
}

// assertCommittedToEndOrEmpty is assertCommittedToEnd where an empty
// partition may have no commit at all.
func assertCommittedToEndOrEmpty(t *testing.T, env kafkatest.Env, group, topic string) {
	t.Helper()
	committed, ends := env.Committed(t, group, topic), env.EndOffsets(t, topic)
	for p, end := range ends {
		if c := committed[p]; c != end && (end != 0 || c > 0) {
			t.Errorf("partition %d: committed %d, want end offset %d (all: %v of %v)", p, c, end, committed, ends)
		}
	}
}

// A run with until = "end" and max_messages unset reads what the topic
// held when it started, more than the 1000 of the default max_messages,
// commits it and stops at once; a second run finds nothing and stops at
// once too.
func TestIntegrationUntilEnd(t *testing.T) {
	env := kafkatest.Start(t)
	in, out, group := kafkatest.Name("in"), kafkatest.Name("out"), kafkatest.Name("g")
	env.CreateTopic(t, in, 3)
	env.CreateTopic(t, out, 3)
	msgs, _ := events(1500)
	env.Produce(t, in, msgs)
	runUntilEnd(t, env, in, out, group, 1500)
	assertCommittedToEnd(t, env, group, in)
	assertOutput(t, env, out, msgs, 0)

	runUntilEnd(t, env, in, out, group, 0)
	assertCommittedToEnd(t, env, group, in)
}

// A partition with no records is caught up from the start: it does not hold
// the run up.
func TestIntegrationUntilEndEmptyPartition(t *testing.T) {
	env := kafkatest.Start(t)
	in, out, group := kafkatest.Name("in"), kafkatest.Name("out"), kafkatest.Name("g")
	env.CreateTopic(t, in, 3)
	env.CreateTopic(t, out, 3)
	msgs, _ := events(1000)
	for i := range msgs {
		msgs[i].Partition = int32(i % 2) // partition 2 stays empty
	}
	env.Produce(t, in, msgs)
	runUntilEnd(t, env, in, out, group, 1000)
	assertCommittedToEndOrEmpty(t, env, group, in)
	assertOutput(t, env, out, msgs, 0)
}

// max_messages set beside until = "end" still bounds the count.
func TestIntegrationUntilEndWithMaxMessages(t *testing.T) {
	env := kafkatest.Start(t)
	in, out, group := kafkatest.Name("in"), kafkatest.Name("out"), kafkatest.Name("g")
	env.CreateTopic(t, in, 3)
	env.CreateTopic(t, out, 3)
	msgs, _ := events(1000)
	env.Produce(t, in, msgs)
	sum := runFile(t, writePipeline(t, t.TempDir(), etl(env, in, out, group, untilEnd+"\nmax_messages = 300")))
	if sum.In != 300 {
		t.Errorf("summary %s; want in=300", sum)
	}
}

// produceTransaction writes values to partition 0 of topic in one
// transaction, committed: the partition's last offset is then the commit
// marker, which no consumer is ever handed.
func produceTransaction(t *testing.T, env kafkatest.Env, topic string, values ...string) {
	t.Helper()
	msgs := make([]kafkatest.Msg, len(values))
	for i, v := range values {
		msgs[i] = kafkatest.Msg{Value: []byte(v)}
	}
	env.ProduceTransaction(t, topic, msgs)
}

// A partition whose last offset is a transaction's commit marker is caught
// up once its last record is read: until = "end" does not wait for an
// offset no record has, under either isolation level.
func TestIntegrationUntilEndAfterTransaction(t *testing.T) {
	for _, iso := range []string{"read_uncommitted", "read_committed"} {
		t.Run(iso, func(t *testing.T) {
			env := kafkatest.Start(t)
			in, out, group := kafkatest.Name("in"), kafkatest.Name("out"), kafkatest.Name("g")
			env.CreateTopic(t, in, 1)
			env.CreateTopic(t, out, 1)
			produceTransaction(t, env, in, `{"amount":1}`, `{"amount":2}`, `{"amount":3}`)
			// The coordinator writes the marker once the commit returns.
			for deadline := time.Now().Add(10 * time.Second); env.EndOffsets(t, in)[0] != 4; time.Sleep(50 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("end offset %d after 3 records and a commit marker; want 4", env.EndOffsets(t, in)[0])
				}
			}
			start := time.Now()
			sum := runFile(t, writePipeline(t, t.TempDir(), etl(env, in, out, group, untilEnd+"\nisolation_level = \""+iso+"\"")))
			if took := time.Since(start); took > 8*time.Second {
				t.Errorf("run took %s; want it to stop once the last record is read, well before timeout_ms (20 s)", took)
			}
			if sum.In != 3 {
				t.Errorf("summary %s; want in=3", sum)
			}
		})
	}
}
