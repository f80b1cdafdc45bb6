package kafkatest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/conveyor-etl/conveyor/internal/kafkautil"
)

// Txn is a transactional producer writing to partition 0 of a topic, for
// tests of what readers do around transaction markers and open or aborted
// transactions.
type Txn struct {
	t     testing.TB
	p     sarama.SyncProducer
	topic string
}

// Txn begins a transaction on topic (a producer with a transactional id of
// its own), closed when the test ends.
func (e Env) Txn(t testing.TB, topic string) *Txn {
	t.Helper()
	sc := kafkautil.Config()
	sc.Producer.Idempotent = true
	sc.Producer.RequiredAcks = sarama.WaitForAll
	sc.Producer.Return.Successes = true
	sc.Producer.Transaction.ID = Name("txn")
	sc.Producer.Partitioner = sarama.NewManualPartitioner
	sc.Net.MaxOpenRequests = 1
	p, err := sarama.NewSyncProducer(e.Brokers, sc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := p.BeginTxn(); err != nil {
		t.Fatal(err)
	}
	return &Txn{t: t, p: p, topic: topic}
}

// Send writes values in the open transaction and waits for their acks.
func (x *Txn) Send(values ...string) {
	x.t.Helper()
	for _, v := range values {
		if _, _, err := x.p.SendMessage(&sarama.ProducerMessage{Topic: x.topic, Partition: 0, Value: sarama.StringEncoder(v)}); err != nil {
			x.t.Fatal(err)
		}
	}
}

// Commit commits the transaction; Abort aborts it. Either writes a marker
// after its records. Both are safe from another goroutine than the test's
// (they report with Error, not Fatal).
func (x *Txn) Commit() {
	if err := x.p.CommitTxn(); err != nil {
		x.t.Error(err)
	}
}

// Abort aborts the transaction.
func (x *Txn) Abort() {
	if err := x.p.AbortTxn(); err != nil {
		x.t.Error(err)
	}
}

// WaitEnd waits until partition 0 of topic ends at end (a marker is written
// once the commit or abort returns, not before).
func (e Env) WaitEnd(t testing.TB, topic string, end int64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); e.EndOffsets(t, topic)[0] != end; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: end offset %d, want %d", topic, e.EndOffsets(t, topic)[0], end)
		}
	}
}

// Trickle writes value to partition 0 of topic every interval, without a
// transaction, until the returned stop is called; stop returns how many it
// wrote. It stands for a slow producer writing while a bounded reader runs.
func (e Env) Trickle(t testing.TB, topic, value string, every time.Duration) (stop func() int) {
	t.Helper()
	sc := kafkautil.Config()
	sc.Producer.Return.Successes = true
	sc.Producer.Partitioner = sarama.NewManualPartitioner
	p, err := sarama.NewSyncProducer(e.Brokers, sc)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	var n int
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Partition: 0, Value: sarama.StringEncoder(value)}); err != nil {
				t.Error(err)
				return
			}
			n++
		}
	}()
	var once sync.Once
	stop = func() int {
		once.Do(func() { close(done); wg.Wait(); p.Close() })
		return n
	}
	t.Cleanup(func() { stop() })
	return stop
}

// WaitGroupStable waits until group has members and a settled assignment.
func (e Env) WaitGroupStable(t testing.TB, group string) {
	t.Helper()
	admin, err := sarama.NewClusterAdmin(e.Brokers, kafkautil.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		ds, err := admin.DescribeConsumerGroups([]string{group})
		if err == nil && len(ds) == 1 && ds[0].State == "Stable" && len(ds[0].Members) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("group %s not stable after 30 s: %v", group, err)
		}
	}
}

// TransactionLast writes, to partition 0 of topic, two records plain then
// three in a transaction, committed or aborted, and waits until the marker
// is the partition's last offset (5; the end offset is 6). A record's value
// is plain, then txn.
func (e Env) TransactionLast(t testing.TB, topic, plain, txn string, commit bool) {
	t.Helper()
	e.Produce(t, topic, []Msg{{Partition: 0, Value: []byte(plain)}, {Partition: 0, Value: []byte(plain)}})
	x := e.Txn(t, topic)
	x.Send(txn, txn, txn)
	if commit {
		x.Commit()
	} else {
		x.Abort()
	}
	e.WaitEnd(t, topic, 6)
}

// WaitStable waits, up to within, until no transaction is open on any
// partition of topic (its last stable offset is its end offset), so that
// a read_committed read sees everything written to it; it returns how
// long it waited. A transaction of an instance that was killed and never
// comes back stays open until the broker aborts it at the producer's
// transaction timeout (sarama: 1 minute), holding back what others
// committed after it. It does not fail the test: what the test then reads
// says what was missing.
func (e Env) WaitStable(t testing.TB, topic string, within time.Duration) time.Duration {
	t.Helper()
	client, err := sarama.NewClient(e.Brokers, kafkautil.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	start := time.Now()
	for {
		open, err := openPartitions(client, topic)
		if err == nil && len(open) == 0 {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Logf("topic %s: transactions still open after %s on partitions %v (%v)", topic, within, open, err)
			return time.Since(start)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// openPartitions returns topic's partitions whose last stable offset is
// below their end offset.
func openPartitions(client sarama.Client, topic string) ([]int32, error) {
	parts, err := client.Partitions(topic)
	if err != nil {
		return nil, err
	}
	var open []int32
	for _, p := range parts {
		end, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			return nil, err
		}
		stable, err := kafkautil.LastStable(client, topic, p)
		if err != nil {
			return nil, fmt.Errorf("partition %d: %w", p, err)
		}
		if stable < end {
			open = append(open, p)
		}
	}
	return open, nil
}
