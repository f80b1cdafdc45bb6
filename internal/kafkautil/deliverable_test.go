package kafkautil_test

import (
	"fmt"
	"testing"

	"github.com/IBM/sarama"

	"github.com/conveyor-etl/conveyor/internal/kafkatest"
	"github.com/conveyor-etl/conveyor/internal/kafkautil"
)

// Deliverable counts what a consumer at each isolation level is handed in a
// span of a partition ending with a transaction: markers never, aborted
// records only read uncommitted; a transaction still open hides the span
// from a read_committed reader (not complete), not from the other.
func TestDeliverable(t *testing.T) {
	env := kafkatest.Start(t)
	client, err := sarama.NewClient(env.Brokers, kafkautil.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	committed, aborted, open := kafkatest.Name("c"), kafkatest.Name("a"), kafkatest.Name("o")
	for _, topic := range []string{committed, aborted, open} {
		env.CreateTopic(t, topic, 1)
	}
	env.TransactionLast(t, committed, `1`, `2`, true)
	env.TransactionLast(t, aborted, `1`, `2`, false)
	x := env.Txn(t, open)
	x.Send(`1`, `2`)
	env.WaitEnd(t, open, 2)
	for _, tc := range []struct {
		topic     string
		from, end int64
		iso       sarama.IsolationLevel
		want      kafkautil.Span
	}{
		{committed, 0, 6, sarama.ReadUncommitted, kafkautil.Span{Records: 5, Complete: true}},
		{committed, 0, 6, sarama.ReadCommitted, kafkautil.Span{Records: 5, Complete: true}},
		{committed, 5, 6, sarama.ReadCommitted, kafkautil.Span{Records: 0, Complete: true}}, // the marker alone
		{committed, 3, 5, sarama.ReadUncommitted, kafkautil.Span{Records: 2, Complete: true}},
		{aborted, 0, 6, sarama.ReadUncommitted, kafkautil.Span{Records: 5, Complete: true}},
		{aborted, 0, 6, sarama.ReadCommitted, kafkautil.Span{Records: 2, Complete: true}},
		{aborted, 2, 6, sarama.ReadCommitted, kafkautil.Span{Records: 0, Complete: true}},
		{open, 0, 2, sarama.ReadUncommitted, kafkautil.Span{Records: 2, Complete: true}},
		{open, 0, 2, sarama.ReadCommitted, kafkautil.Span{Records: 0, Complete: false}},
	} {
		got, err := kafkautil.Deliverable(client, tc.topic, 0, tc.from, tc.end, tc.iso, false)
		if err != nil || got != tc.want {
			t.Errorf("%s [%d, %d) isolation %d: %+v, %v; want %+v", tc.topic, tc.from, tc.end, tc.iso, got, err, tc.want)
		}
	}
	// Stopping at the first record: 1 record, not complete.
	if got, err := kafkautil.Deliverable(client, committed, 0, 0, 6, sarama.ReadCommitted, true); err != nil || got != (kafkautil.Span{Records: 1}) {
		t.Errorf("stopAtFirst: %+v, %v", got, err)
	}
	x.Abort()
}

// ReadAll of a topic a transactional producer wrote, whose last offset is
// a commit marker no consumer is handed, returns its records instead of
// waiting for the marker until it times out (`conveyor test --broker
// embedded` of an exactly-once pipeline read its sink back that way).
func TestReadAllEndsAtTransactionMarker(t *testing.T) {
	env := kafkatest.Start(t)
	topic := kafkatest.Name("m")
	env.CreateTopic(t, topic, 1)
	env.TransactionLast(t, topic, `1`, `2`, true)
	got, err := kafkautil.ReadAll(env.Brokers, topic)
	if err != nil {
		t.Fatal(err)
	}
	var vals []string
	for _, m := range got {
		vals = append(vals, string(m.Value))
	}
	if want := "[1 1 2 2 2]"; fmt.Sprint(vals) != want {
		t.Errorf("values %v, want %s", vals, want)
	}
}
