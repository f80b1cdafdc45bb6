package kafka

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill/message"
	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/kafkatest"
	"github.com/conveyor-etl/conveyor/internal/kafkautil"
	"github.com/conveyor-etl/conveyor/internal/lifecycle"
	"github.com/conveyor-etl/conveyor/plugin"
)

// A per-message source that was built but never subscribed (another stage
// failed to build, say) closes at once instead of waiting for a forward
// loop that never started, and closing it twice at once (the router and
// the runner both do) does not panic in sarama's client.Close.
func TestPerMessageSourceClosesUnsubscribed(t *testing.T) {
	env := kafkatest.Start(t)
	cfg := DefaultSourceConfig()
	cfg.Brokers, cfg.Topic, cfg.GroupID, cfg.Delivery = env.Brokers, kafkatest.Name("t"), kafkatest.Name("g"), "per-message"
	src, err := newPerMessageSource(cfg, plugin.Env{Stage: &config.Stage{ID: "consume"}, Logger: zap.NewNop(), DurableOnAck: true})
	if err != nil {
		t.Fatal(err)
	}
	// The router and the runner both close it, concurrently.
	done := make(chan error, 2)
	go func() { done <- src.Close() }()
	go func() { done <- src.Close() }()
	for range 2 {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("Close of a never-subscribed per-message source hung")
		}
	}
}

// holdPartitions joins group as a member that holds what it is assigned and
// reads nothing, until the returned function makes it leave. With the range
// strategy it gets a lone partition when its client id sorts first.
func holdPartitions(t *testing.T, env kafkatest.Env, group, topic string) (assigned <-chan struct{}, leave func()) {
	t.Helper()
	sc := sarama.NewConfig()
	sc.Version = sarama.V3_0_0_0
	sc.ClientID = "a-holder" // sorts before "conveyor"
	member, err := sarama.NewConsumerGroup(env.Brokers, group, sc)
	if err != nil {
		t.Fatal(err)
	}
	h := &holder{assigned: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for ctx.Err() == nil {
			_ = member.Consume(ctx, []string{topic}, h)
		}
	}()
	var once sync.Once
	leave = func() { once.Do(func() { cancel(); <-stopped; member.Close() }) }
	t.Cleanup(leave)
	return h.assigned, leave
}

type holder struct {
	assigned chan struct{}
	once     sync.Once
}

func (h *holder) Setup(sess sarama.ConsumerGroupSession) error {
	if len(sess.Claims()) > 0 {
		h.once.Do(func() { close(h.assigned) })
	}
	return nil
}
func (*holder) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (*holder) ConsumeClaim(sess sarama.ConsumerGroupSession, _ sarama.ConsumerGroupClaim) error {
	<-sess.Context().Done()
	return nil
}

// A per-message run's timeout_ms counts from when the group gives it
// partitions, as the batching source's does: while another member holds
// the only partition, the clock does not run. It used to start at
// Subscribe, so a run that waited longer than timeout_ms for its partition
// read nothing.
func TestPerMessageTimeoutStartsAtAssignment(t *testing.T) {
	env := kafkatest.Start(t)
	topic, group := kafkatest.Name("t"), kafkatest.Name("g")
	env.CreateTopic(t, topic, 1)
	const n = 20
	msgs := make([]kafkatest.Msg, n)
	for i := range msgs {
		msgs[i] = kafkatest.Msg{Value: []byte(fmt.Sprintf(`{"i":%d}`, i))}
	}
	env.Produce(t, topic, msgs)
	assigned, leave := holdPartitions(t, env, group, topic)
	select {
	case <-assigned:
	case <-time.After(60 * time.Second):
		t.Fatal("the holding member was never assigned the partition")
	}

	cfg := DefaultSourceConfig()
	cfg.Brokers, cfg.Topic, cfg.GroupID, cfg.Delivery = env.Brokers, topic, group, "per-message"
	cfg.MaxMessages, cfg.Timeout = 0, 3*time.Second
	src, err := newPerMessageSource(cfg, plugin.Env{Stage: &config.Stage{ID: "consume"}, Logger: zap.NewNop(), DurableOnAck: true})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	out, err := src.Subscribe(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan int, n)
	go func() {
		for msg := range out {
			msg.Ack()
			got <- 1
		}
	}()
	// Hold the partition longer than timeout_ms, then give it up.
	time.Sleep(cfg.Timeout + time.Second)
	leave()
	read := 0
	for read < n {
		select {
		case <-got:
			read++
		case <-src.Done():
			t.Fatalf("the run ended after reading %d of %d records: its timeout_ms ran while another member held the partition", read, n)
		case <-time.After(60 * time.Second):
			t.Fatalf("read %d of %d records in 60 s", read, n)
		}
	}
	select {
	case <-src.Done(): // timeout_ms after the assignment
	case <-time.After(30 * time.Second):
		t.Fatal("the run did not stop timeout_ms after it got its partition")
	}
	if err := src.Err(); err != nil {
		t.Fatal(err)
	}
}

// The per-message sink classifies a record's failure as the batching sink
// does: a record the topic refuses as it is fails permanently, so that
// [error_handling] routes it instead of retrying it forever.
func TestPerMessageSinkErrorsClassified(t *testing.T) {
	env := kafkatest.Start(t)
	topic := kafkatest.Name("small")
	env.CreateTopic(t, topic, 1, "max.message.bytes", "200")
	cfg := DefaultSinkConfig()
	cfg.Brokers, cfg.Topic, cfg.Delivery, cfg.Retries = env.Brokers, topic, "per-message", 2
	s, err := newPerMessageSink(cfg, plugin.Env{Stage: &config.Stage{ID: "produce"}, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recs := []plugin.Record{{Value: []byte(`"fits"`)}, {Value: []byte(`"` + strings.Repeat("x", 500) + `"`)}}
	err = s.Send(ctx, recs).Wait(ctx)
	var we *plugin.WriteError
	if !errors.As(err, &we) || len(we.Failed) != 1 || we.Failed[0] != 1 {
		t.Fatalf("write of a record that fits and one that does not: %v; want a *plugin.WriteError for the second record only", err)
	}
	if e := we.Errs[0]; !errors.Is(e, sarama.ErrMessageSizeTooLarge) || !plugin.IsPermanent(e) {
		t.Errorf("a record larger than the topic's max.message.bytes failed with %v (permanent %v); want a permanent %v", e, plugin.IsPermanent(e), sarama.ErrMessageSizeTooLarge)
	}
}

// Once stopped, forward hands nothing more on, even with messages waiting
// (a select between the input and the stop picks either at random).
func TestPerMessageForwardStopsAtStop(t *testing.T) {
	for i := range 50 {
		cfg := DefaultSourceConfig()
		cfg.Topic, cfg.MaxMessages = "t", 0
		s := &perMessageSource{cfg: cfg, env: plugin.Env{Stage: &config.Stage{ID: "consume"}, Logger: zap.NewNop()},
			out: make(chan *message.Message), State: lifecycle.New(), acked: map[int32]int64{}}
		s.Stop()
		in := make(chan *message.Message, 1)
		in <- message.NewMessage("m", []byte(`{}`))
		go s.forward(in)
		select {
		case <-s.Done():
		case m := <-s.out:
			t.Fatalf("round %d: forwarded %s after Stop", i, m.UUID)
		case <-time.After(5 * time.Second):
			t.Fatalf("round %d: forward did not return after Stop", i)
		}
	}
}

// groupState is the consumer group's state as its coordinator says.
func groupState(t *testing.T, env kafkatest.Env, group string) string {
	t.Helper()
	admin, err := sarama.NewClusterAdmin(env.Brokers, kafkautil.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	gs, err := admin.DescribeConsumerGroups([]string{group})
	if err != nil || len(gs) != 1 {
		t.Fatalf("describe group %s: %v", group, err)
	}
	return gs[0].State
}

// A record acked after a rebalance ended the stock handler's session is
// never marked, and its partition goes to another member: the final commit
// neither waits for it nor fails (nothing is lost: the new owner reads it
// from the last commit). It failed "the final commit was not confirmed".
func TestPerMessageFinalCommitAfterRebalance(t *testing.T) {
	env := kafkatest.Start(t)
	topic, group := kafkatest.Name("t"), kafkatest.Name("g")
	env.CreateTopic(t, topic, 1)
	env.Produce(t, topic, []kafkatest.Msg{{Partition: 0, Value: []byte(`{"i":0}`)}})
	cfg := DefaultSourceConfig()
	cfg.Brokers, cfg.Topic, cfg.GroupID, cfg.Delivery, cfg.MaxMessages = env.Brokers, topic, group, "per-message", 0
	src, err := newPerMessageSource(cfg, plugin.Env{Stage: &config.Stage{ID: "consume"}, Logger: zap.NewNop(), DurableOnAck: true})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	out, err := src.Subscribe(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	var msg *message.Message
	select {
	case msg = <-out:
	case <-time.After(60 * time.Second):
		t.Fatal("no record within 60 s")
	}
	// Another member joins, and takes the lone partition (its client id
	// sorts first); the source's session ends at its next heartbeat.
	assigned, _ := holdPartitions(t, env, group, topic)
	deadline := time.Now().Add(30 * time.Second)
	for groupState(t, env, group) == "Stable" {
		if time.Now().After(deadline) {
			t.Fatal("no rebalance within 30 s of the second member joining")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(4500 * time.Millisecond) // past a heartbeat (every 3 s): the stock handler's session has ended
	msg.Ack()
	select {
	case <-assigned:
	case <-time.After(60 * time.Second):
		t.Fatal("the other member never got the partition")
	}
	src.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := src.Commit(ctx); err != nil {
		t.Errorf("final commit: %v; want nil: the record was not lost, its partition's new owner reads it again", err)
	}
	if c := env.Committed(t, group, topic)[0]; c > 0 {
		t.Errorf("committed offset %d; the record acked after its session ended cannot have been committed", c)
	}
}
