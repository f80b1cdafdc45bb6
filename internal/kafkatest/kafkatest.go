// Package kafkatest gives integration tests a Kafka to talk to over TCP
// with the real sarama client: the broker named by KAFKA_BROKERS when it is
// set (a real Apache Kafka), and otherwise an in-process one started for the
// test. Its helpers fail the test on error.
package kafkatest

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/conveyor-etl/conveyor/internal/devkafka"
	"github.com/conveyor-etl/conveyor/internal/kafkautil"
)

// Msg is a record to produce or one read back.
type Msg = kafkautil.Msg

// Env is the broker a test uses.
type Env struct {
	Brokers []string
	// Real is true against KAFKA_BROKERS.
	Real bool
}

// BrokerList is Brokers joined with commas, as a pipeline writes it.
func (e Env) BrokerList() string { return strings.Join(e.Brokers, ",") }

// Start returns KAFKA_BROKERS when set, else a fresh in-process broker that
// is closed when the test ends.
func Start(t testing.TB) Env {
	t.Helper()
	if v := os.Getenv("KAFKA_BROKERS"); v != "" {
		t.Logf("using real Kafka at KAFKA_BROKERS=%s", v)
		return Env{Brokers: strings.Split(v, ","), Real: true}
	}
	b, err := devkafka.Start(devkafka.Options{})
	if err != nil {
		t.Fatalf("start in-process broker: %v", err)
	}
	t.Cleanup(b.Close)
	return Env{Brokers: []string{b.Addr}}
}

// StartEmbedded starts an in-process broker whatever KAFKA_BROKERS says,
// for tests that inject faults through its kfake cluster.
func StartEmbedded(t testing.TB) (Env, *kfake.Cluster) {
	t.Helper()
	b, err := devkafka.Start(devkafka.Options{})
	if err != nil {
		t.Fatalf("start in-process broker: %v", err)
	}
	t.Cleanup(b.Close)
	return Env{Brokers: []string{b.Addr}}, b.Cluster()
}

var seq atomic.Int64

// Name returns a name unique to this test process, for topics and groups
// on a shared real broker.
func Name(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano()%1e9, seq.Add(1))
}

// CreateTopic creates a topic with n partitions (replication factor 1, or
// KAFKA_REPLICATION when set) and the given topic configs, as name/value
// pairs.
func (e Env) CreateTopic(t testing.TB, name string, n int32, configs ...string) {
	t.Helper()
	rf := int16(1)
	if v, err := strconv.Atoi(os.Getenv("KAFKA_REPLICATION")); err == nil {
		rf = int16(v)
	}
	if err := kafkautil.CreateTopic(e.Brokers, name, n, rf, configs...); err != nil {
		t.Fatal(err)
	}
}

// Produce writes msgs (Partition < 0: by key, Java's way) and waits for acks.
func (e Env) Produce(t testing.TB, topic string, msgs []Msg) {
	t.Helper()
	if err := kafkautil.Produce(e.Brokers, topic, msgs); err != nil {
		t.Fatal(err)
	}
}

// ProduceTransaction writes msgs (each to its Partition, which must be
// set) in one transaction, committed: each partition's last offset is then
// the commit marker, which no consumer is ever handed.
func (e Env) ProduceTransaction(t testing.TB, topic string, msgs []Msg) {
	t.Helper()
	if err := kafkautil.ProduceTransaction(e.Brokers, topic, Name("txn"), msgs); err != nil {
		t.Fatal(err)
	}
}

// ReadAll reads a topic back, ordered by partition then offset.
func (e Env) ReadAll(t testing.TB, topic string) []Msg {
	t.Helper()
	out, err := kafkautil.ReadAll(e.Brokers, topic)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Committed returns the group's committed offsets for topic.
func (e Env) Committed(t testing.TB, group, topic string) map[int32]int64 {
	t.Helper()
	out, err := kafkautil.Committed(e.Brokers, group, topic)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// EndOffsets returns topic's end offsets.
func (e Env) EndOffsets(t testing.TB, topic string) map[int32]int64 {
	t.Helper()
	out, err := kafkautil.EndOffsets(e.Brokers, topic)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
