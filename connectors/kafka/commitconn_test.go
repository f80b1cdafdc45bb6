package kafka

import (
	"errors"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/conveyor-etl/conveyor/internal/kafkatest"
)

// A commit must not wait behind a fetch long poll: on the client's shared
// connection to the coordinator (the fetch connection, with one broker) the
// broker answers it only once the fetch returns, which held every window
// slot of a caught-up source for the fetch's MaxWaitTime.
func TestCommitNotBehindFetchLongPoll(t *testing.T) {
	env := kafkatest.Start(t)
	topic, group := kafkatest.Name("commitconn"), kafkatest.Name("commitconn-g")
	env.CreateTopic(t, topic, 1)
	env.Produce(t, topic, []kafkatest.Msg{{Partition: 0, Value: []byte(`{"a":1}`)}})

	sc := sarama.NewConfig()
	sc.Version = protocolVersion
	client, err := sarama.NewClient(env.Brokers, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	leader, err := client.Leader(topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	coord, err := client.Coordinator(group)
	if err != nil {
		t.Fatal(err)
	}
	if coord.Addr() != leader.Addr() {
		t.Fatalf("the test needs the coordinator to lead the partition (one broker); coordinator %s, leader %s", coord.Addr(), leader.Addr())
	}

	// A fetch at the partition's end: nothing to return, so the broker
	// holds it for MaxWaitTime.
	const longPoll = 3 * time.Second
	fetched := make(chan error, 1)
	go func() {
		req := &sarama.FetchRequest{Version: 11, MaxWaitTime: int32(longPoll / time.Millisecond), MinBytes: 1, MaxBytes: 1 << 20, Isolation: sarama.ReadUncommitted}
		req.AddBlock(topic, 0, 1, 1<<20, -1)
		_, err := leader.Fetch(req)
		fetched <- err
	}()
	time.Sleep(300 * time.Millisecond) // let the fetch reach the broker

	req := &sarama.OffsetCommitRequest{Version: 8, ConsumerGroup: group, ConsumerGroupGeneration: -1}
	req.AddBlockWithLeaderEpoch(topic, 0, 1, -1, 0, "")
	cc := newCommitConn(client, group)
	defer cc.Close()
	start := time.Now()
	resp, err := cc.commit(req)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if kerr := resp.Errors[topic][0]; !errors.Is(kerr, sarama.ErrNoError) {
		t.Fatalf("commit refused: %v", kerr)
	}
	if took > longPoll/3 {
		t.Fatalf("commit took %v: it waited behind the %v fetch long poll", took, longPoll)
	}
	select {
	case err := <-fetched:
		t.Fatalf("the fetch returned (%v) before the commit did, after %v: the broker did not hold it, so this test shows nothing", err, took)
	default:
	}
	if got := env.Committed(t, group, topic); got[0] != 1 {
		t.Fatalf("committed %v, want partition 0 at 1", got)
	}
	if err := <-fetched; err != nil {
		t.Fatalf("fetch: %v", err)
	}
}
