package kafka

import (
	"context"
	"fmt"
	"testing"

	"github.com/IBM/sarama"

	"github.com/conveyor-etl/conveyor/internal/kafkatest"
	"github.com/conveyor-etl/conveyor/internal/kafkautil"
	"github.com/conveyor-etl/conveyor/internal/state"
)

// Under exactly-once a restore reads the changelog as a read_committed
// consumer: the changes of an aborted transaction are not restored, those
// of a transaction still open (past the last stable offset) neither, and
// the read ends at the last stable offset although the offsets before it
// are transaction markers, which no consumer is handed.
func TestChangelogRestoreReadsWhatCommitted(t *testing.T) {
	env := kafkatest.Start(t)
	src := changelogSource(t, env, 1)
	topic := kafkatest.Name("changelog")
	env.CreateTopic(t, topic, 1)
	txnID := kafkatest.Name("txn")
	put := func(k, v string) kafkautil.Msg { return kafkautil.Msg{Key: []byte(k), Value: []byte(v)} }
	if err := kafkautil.ProduceTransaction(env.Brokers, topic, txnID, []kafkautil.Msg{put("a", "1"), put("b", "1")}); err != nil {
		t.Fatal(err)
	}
	p := txnProducer(t, env, txnID)
	send := func(k, v string) {
		if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(k), Value: sarama.StringEncoder(v)}); err != nil {
			t.Fatal(err)
		}
	}
	must(t, p.BeginTxn())
	send("a", "aborted")
	send("c", "aborted")
	must(t, p.AbortTxn())
	must(t, p.BeginTxn())
	send("b", "2")
	must(t, p.CommitTxn())
	must(t, p.BeginTxn())
	send("d", "open") // left open: past the last stable offset

	cl := &changelog{topic: topic, client: src.client, txn: &txn{}}
	var got []string
	total := int64(0)
	end, err := cl.Read(context.Background(), 0, 0, func(n int64) { total = n }, func(c state.Change) {
		got = append(got, string(c.Key)+"="+string(c.Value))
	})
	if err != nil {
		t.Fatal(err)
	}
	// a=1 b=1 (0, 1), commit marker (2), the aborted a and c (3, 4), abort
	// marker (5), b=2 (6), commit marker (7): the last stable offset is 8
	if fmt.Sprint(got) != "[a=1 b=1 b=2]" || end != 8 || total != 8 {
		t.Errorf("restored %v up to %d (%d announced), want [a=1 b=1 b=2] up to the last stable offset 8", got, end, total)
	}
}

func txnProducer(t *testing.T, env kafkatest.Env, id string) sarama.SyncProducer {
	t.Helper()
	sc := kafkautil.Config()
	sc.Producer.Idempotent = true
	sc.Producer.Transaction.ID = id
	sc.Net.MaxOpenRequests = 1
	p, err := sarama.NewSyncProducer(env.Brokers, sc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
