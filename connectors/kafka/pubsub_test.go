package kafka

import (
	"context"
	"errors"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wkafka "github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/conveyor-etl/conveyor/internal/kafkatest"
	"github.com/conveyor-etl/conveyor/plugin"
)

func testPublisher(t *testing.T, env kafkatest.Env, maxBytes int) *Publisher {
	t.Helper()
	cfg := DefaultPublisherConfig(env.Brokers...)
	cfg.MaxMessageBytes = maxBytes
	p, err := NewPublisher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func testSubscriber(t *testing.T, env kafkatest.Env, group string) *Subscriber {
	t.Helper()
	s, err := NewSubscriber(DefaultSubscriberConfig(group, env.Brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func receive(t *testing.T, ch <-chan *message.Message) *message.Message {
	t.Helper()
	select {
	case m, ok := <-ch:
		if !ok {
			t.Fatal("subscription closed")
		}
		return m
	case <-time.After(30 * time.Second):
		t.Fatal("no message within 30 s")
	}
	return nil
}

// A subscription hands a partition's messages out one at a time, in order:
// a nacked message comes again (same UUID, payload and metadata) before
// anything after it, and only acked messages are committed, so a new member
// of the group starts at the first message not acked.
func TestSubscriberCommitsOnlyAcked(t *testing.T) {
	env := kafkatest.Start(t)
	topic, group := kafkatest.Name("msgmode"), kafkatest.Name("g")
	env.CreateTopic(t, topic, 1)
	var sent []*message.Message
	for i := range 5 {
		m := message.NewMessage(watermill.NewUUID(), []byte{'a' + byte(i)})
		m.Metadata.Set("n", string(rune('0'+i)))
		sent = append(sent, m)
	}
	if err := testPublisher(t, env, 1000000).Publish(topic, sent...); err != nil {
		t.Fatal(err)
	}

	sub := testSubscriber(t, env, group)
	ch, err := sub.Subscribe(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	same := func(got, want *message.Message) {
		t.Helper()
		if got.UUID != want.UUID || string(got.Payload) != string(want.Payload) || !maps.Equal(got.Metadata, want.Metadata) {
			t.Fatalf("got message %s %q %v, want %s %q %v", got.UUID, got.Payload, got.Metadata, want.UUID, want.Payload, want.Metadata)
		}
	}
	for i := range 2 {
		m := receive(t, ch)
		same(m, sent[i])
		m.Ack()
	}
	m := receive(t, ch)
	same(m, sent[2])
	m.Nack()
	select {
	case <-m.Context().Done():
	case <-time.After(5 * time.Second):
		t.Fatal("a nacked message's context did not end")
	}
	again := receive(t, ch)
	same(again, sent[2])
	select {
	case m := <-ch:
		t.Fatalf("message %s (payload %q) delivered while %s was neither acked nor nacked", m.UUID, m.Payload, again.UUID)
	case <-time.After(300 * time.Millisecond):
	}
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-ch; ok {
		t.Fatal("the subscription's channel is open after Close")
	}
	if got := env.Committed(t, group, topic)[0]; got != 2 {
		t.Fatalf("committed offset %d after acking the first 2 messages, want 2", got)
	}

	ch, err = testSubscriber(t, env, group).Subscribe(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	same(receive(t, ch), sent[2])
}

// The message mode's records are watermill-kafka's: the UUID and the
// metadata go in the same headers, so either side can be stock
// watermill-kafka.
func TestMessageModeInteroperates(t *testing.T) {
	env := kafkatest.Start(t)
	topic := kafkatest.Name("interop")
	env.CreateTopic(t, topic, 1)
	ours := message.NewMessage(watermill.NewUUID(), []byte("ours"))
	ours.Metadata.Set("from", "conveyor")
	if err := testPublisher(t, env, 1000000).Publish(topic, ours); err != nil {
		t.Fatal(err)
	}
	stockPub, err := wkafka.NewPublisher(wkafka.PublisherConfig{Brokers: env.Brokers, Marshaler: wkafka.DefaultMarshaler{}}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	defer stockPub.Close()
	theirs := message.NewMessage(watermill.NewUUID(), []byte("theirs"))
	theirs.Metadata.Set("from", "watermill-kafka")
	if err := stockPub.Publish(topic, theirs); err != nil {
		t.Fatal(err)
	}

	sc := wkafka.DefaultSaramaSubscriberConfig()
	sc.Consumer.Offsets.Initial = -2 // oldest
	stockSub, err := wkafka.NewSubscriber(wkafka.SubscriberConfig{Brokers: env.Brokers, Unmarshaler: wkafka.DefaultMarshaler{},
		ConsumerGroup: kafkatest.Name("g"), OverwriteSaramaConfig: sc}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	defer stockSub.Close()
	stockCh, err := stockSub.Subscribe(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	ourCh, err := testSubscriber(t, env, kafkatest.Name("g")).Subscribe(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	for name, ch := range map[string]<-chan *message.Message{"watermill-kafka's Subscriber": stockCh, "our Subscriber": ourCh} {
		for _, want := range []*message.Message{ours, theirs} {
			got := receive(t, ch)
			got.Ack()
			if got.UUID != want.UUID || string(got.Payload) != string(want.Payload) || got.Metadata.Get("from") != want.Metadata.Get("from") {
				t.Errorf("%s read %s %q from=%q, want %s %q from=%q", name, got.UUID, got.Payload, got.Metadata.Get("from"), want.UUID, want.Payload, want.Metadata.Get("from"))
			}
		}
	}
}

// A message the producer would refuse fails Publish with an error naming
// it, permanent; the others of the call are still written. Publish fails
// after Close.
func TestPublisherFailures(t *testing.T) {
	env := kafkatest.Start(t)
	topic := kafkatest.Name("pubfail")
	env.CreateTopic(t, topic, 1)
	p := testPublisher(t, env, 200)
	big := message.NewMessage("big-one", []byte(strings.Repeat("x", 500)))
	err := p.Publish(topic, message.NewMessage("small-one", []byte("ok")), big)
	if err == nil || !strings.Contains(err.Error(), "1 of 2 message(s) to topic") || !strings.Contains(err.Error(), "first big-one:") ||
		!strings.Contains(err.Error(), "larger than max_message_bytes = 200") || !plugin.IsPermanent(err) {
		t.Errorf("Publish of an oversize message: %v (permanent %v); want a permanent error naming big-one", err, plugin.IsPermanent(err))
	}
	if got := env.ReadAll(t, topic); len(got) != 1 || string(got[0].Value) != "ok" {
		t.Errorf("topic holds %d records, want only the small one", len(got))
	}
	reserved := message.NewMessage("r", []byte("x"))
	reserved.Metadata.Set(UUIDHeader, "spoof")
	if err := p.Publish(topic, reserved); err == nil || !strings.Contains(err.Error(), "reserved for the message's UUID") || !plugin.IsPermanent(err) {
		t.Errorf("Publish with metadata %q: %v; want a permanent error saying it is reserved", UUIDHeader, err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Publish(topic, message.NewMessage("late", []byte("x"))); !errors.Is(err, ErrClosed) {
		t.Errorf("Publish after Close: %v, want ErrClosed", err)
	}
}

// A subscription that ends leaves nothing behind in its Subscriber: a
// long-lived Subscriber whose subscriptions come and go (one per request,
// say) does not grow.
func TestSubscriberForgetsEndedSubscriptions(t *testing.T) {
	env := kafkatest.Start(t)
	topic := kafkatest.Name("ended")
	env.CreateTopic(t, topic, 1)
	sub := testSubscriber(t, env, kafkatest.Name("g"))
	for range 3 {
		ctx, cancel := context.WithCancel(context.Background())
		ch, err := sub.Subscribe(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		for range ch { // closes once the member has left
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		sub.mu.Lock()
		n := len(sub.cancel)
		sub.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Subscriber still holds %d cancel func(s) of ended subscriptions", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A message's partition comes with its context: messages of two
// partitions go out each in its own partition's order.
func TestSubscriberKnowsEachMessagesPartition(t *testing.T) {
	env := kafkatest.Start(t)
	topic := kafkatest.Name("parts")
	env.CreateTopic(t, topic, 2)
	var msgs []kafkatest.Msg
	for i := range 6 {
		msgs = append(msgs, kafkatest.Msg{Partition: int32(i % 2), Value: []byte(strconv.Itoa(i))})
	}
	env.Produce(t, topic, msgs)
	sub := testSubscriber(t, env, kafkatest.Name("g"))
	ch, err := sub.Subscribe(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	last := map[int]int{0: -2, 1: -1}
	for range 6 {
		m := receive(t, ch)
		n, _ := strconv.Atoi(string(m.Payload))
		if n != last[n%2]+2 {
			t.Errorf("partition %d: got %d after %d", n%2, n, last[n%2])
		}
		last[n%2] = n
		m.Ack()
	}
}
