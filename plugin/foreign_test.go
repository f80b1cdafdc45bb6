package plugin

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
)

func TestRecordMessageCopiesTopLevelKafkaMetadata(t *testing.T) {
	v := `{"id":1,"nested":{"_kafka_key":"no"},"_kafka_key":"k1","_kafka_partition":2,"_kafka_offset":17,"_kafka_timestamp":1764072000000}`
	msg := recordMessage(Record{Value: []byte(v)})
	if string(msg.Payload) != v {
		t.Errorf("payload %s, want the record %s", msg.Payload, v)
	}
	want := map[string]string{"_kafka_key": "k1", "_kafka_partition": "2", "_kafka_offset": "17", "_kafka_timestamp": "1764072000000"}
	for k, w := range want {
		if got := msg.Metadata.Get(k); got != w {
			t.Errorf("metadata %s = %q, want %q", k, got, w)
		}
	}
	if len(msg.Metadata) != len(want) {
		t.Errorf("metadata %v, want only %v", msg.Metadata, want)
	}

	plain := recordMessage(Record{Value: []byte(`{"id":2,"_kafka_key":null}`)})
	if len(plain.Metadata) != 0 {
		t.Errorf("a record without metadata (null key) got metadata %v", plain.Metadata)
	}
}

func TestMessageRecordWrapsWhatIsNotAnObject(t *testing.T) {
	for in, want := range map[string]string{
		`{ "id": 1, "s": "a b" }`: `{"id":1,"s":"a b"}`,
		`not json`:                `{"_kafka_payload":"not json"}`,
		`[1,2]`:                   `{"_kafka_payload":"[1,2]"}`,
		`{"id":1`:                 `{"_kafka_payload":"{\"id\":1"}`,
		``:                        `{"_kafka_payload":""}`,
	} {
		if got := string(messageRecord(nil, []byte(in))); got != want {
			t.Errorf("payload %q gave record %s, want %s", in, got, want)
		}
	}
}

// chanSubscriber is a Subscriber over a channel the test fills, so that
// the test can watch each message's ack and nack.
type chanSubscriber struct {
	ch     chan *message.Message
	closed chan struct{}
}

func newChanSubscriber(n int) *chanSubscriber {
	return &chanSubscriber{ch: make(chan *message.Message, n), closed: make(chan struct{})}
}

func (c *chanSubscriber) Subscribe(context.Context, string) (<-chan *message.Message, error) {
	return c.ch, nil
}
func (c *chanSubscriber) Close() error { close(c.closed); return nil }

func (c *chanSubscriber) send(payloads ...string) []*message.Message {
	var out []*message.Message
	for _, p := range payloads {
		m := message.NewMessage(watermill.NewUUID(), []byte(p))
		c.ch <- m
		out = append(out, m)
	}
	return out
}

func buildForeignSource(t *testing.T, fs ForeignSubscriber) Source {
	t.Helper()
	f := SubscriberSource(func() *struct{} { return &struct{}{} }, func(context.Context, *struct{}, Env) (ForeignSubscriber, error) { return fs, nil })
	src, err := f.Build(context.Background(), f.Config(), Env{DurableOnAck: true})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func receive(t *testing.T, ch <-chan *message.Message) (*message.Message, *Batch) {
	t.Helper()
	select {
	case msg := <-ch:
		b, err := DecodeBatch(msg)
		if err != nil {
			t.Fatal(err)
		}
		return msg, &b
	case <-time.After(5 * time.Second):
		t.Fatal("no batch in 5 s")
	}
	return nil, nil
}

func settled(m *message.Message) string {
	select {
	case <-m.Acked():
		return "acked"
	case <-m.Nacked():
		return "nacked"
	default:
		return "pending"
	}
}

func waitSettled(t *testing.T, want string, msgs ...*message.Message) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for _, m := range msgs {
		for settled(m) != want && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if got := settled(m); got != want {
			t.Fatalf("foreign message %s is %s, want %s", m.Payload, got, want)
		}
	}
}

// The foreign messages of a batch are acked only once the batch is, and
// nacked (failing the source) when it is nacked.
func TestSubscriberSourceSettlesForeignMessagesWithTheirBatch(t *testing.T) {
	sub := newChanSubscriber(10)
	first := sub.send(`{"id":1}`, `{"id":2}`, `three`)
	src := buildForeignSource(t, ForeignSubscriber{Subscriber: sub, Topic: "t"})
	defer src.Close()
	out, err := src.Subscribe(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	msg, b := receive(t, out)
	var got []string
	for _, r := range b.Records {
		got = append(got, string(r.Value))
	}
	if want := `{"id":1} {"id":2} {"_kafka_payload":"three"}`; strings.Join(got, " ") != want {
		t.Fatalf("batch %v, want %s (the three ready messages in one batch)", got, want)
	}
	time.Sleep(50 * time.Millisecond)
	for _, m := range first {
		if s := settled(m); s != "pending" {
			t.Fatalf("foreign message %s is %s before its batch was acked", m.Payload, s)
		}
	}
	msg.Ack()
	waitSettled(t, "acked", first...)

	second := sub.send(`{"id":4}`)
	msg, _ = receive(t, out)
	msg.Nack()
	waitSettled(t, "nacked", second...)
	select {
	case <-src.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the source is not done after a nacked batch")
	}
	if src.(Failer).Err() == nil {
		t.Error("Err is nil after a nacked batch")
	}
	if st := src.(Counter).Stats(); st.Records != 4 {
		t.Errorf("Stats().Records = %d, want 4", st.Records)
	}
}

// After a batch is nacked, the foreign messages of a later batch are
// nacked even when that batch is acked: a Subscriber with cumulative acks
// would record progress past the failure.
func TestSubscriberSourceNacksEverythingAfterANack(t *testing.T) {
	sub := newChanSubscriber(10)
	src := buildForeignSource(t, ForeignSubscriber{Subscriber: sub, Topic: "t"})
	defer src.Close()
	out, err := src.Subscribe(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	first := sub.send(`{"id":1}`)
	msg1, _ := receive(t, out)
	second := sub.send(`{"id":2}`)
	msg2, _ := receive(t, out)
	msg1.Nack()
	msg2.Ack()
	waitSettled(t, "nacked", first...)
	waitSettled(t, "nacked", second...)
}

// A Limit stops the source after that many records: the rest stay
// unacked, for the next run.
func TestSubscriberSourceLimit(t *testing.T) {
	sub := newChanSubscriber(10)
	msgs := sub.send(`{"id":1}`, `{"id":2}`, `{"id":3}`)
	src := buildForeignSource(t, ForeignSubscriber{Subscriber: sub, Topic: "t", Limit: 2})
	out, err := src.Subscribe(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	msg, b := receive(t, out)
	if len(b.Records) != 2 {
		t.Fatalf("batch of %d records, want 2 (the limit)", len(b.Records))
	}
	msg.Ack()
	select {
	case <-src.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the source is not done at its limit")
	}
	waitSettled(t, "acked", msgs[:2]...)
	if s := settled(msgs[2]); s != "pending" {
		t.Errorf("the message past the limit is %s, want pending", s)
	}
	if err := src.(Committer).Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sub.closed:
	default:
		t.Error("Commit did not close the Subscriber (which records its progress as it closes)")
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestSubscriberSourceRefusesSinksDurableOnlyAtFlush(t *testing.T) {
	f := SubscriberSource(func() *struct{} { return &struct{}{} }, func(context.Context, *struct{}, Env) (ForeignSubscriber, error) {
		return ForeignSubscriber{Subscriber: newChanSubscriber(1)}, nil
	})
	_, err := f.Build(context.Background(), f.Config(), Env{DurableOnAck: false})
	if err == nil || !strings.Contains(err.Error(), "durable") {
		t.Fatalf("err = %v, want the refusal to feed a sink durable only at flush", err)
	}
}

func TestPublisherSinkPublishesOneMessagePerRecord(t *testing.T) {
	gc := gochannel.NewGoChannel(gochannel.Config{Persistent: true}, watermill.NopLogger{})
	f := PublisherSink(func() *struct{} { return &struct{}{} }, func(context.Context, *struct{}, Env) (ForeignPublisher, error) {
		return ForeignPublisher{Publisher: gc, Topic: "out"}, nil
	})
	sink, err := f.Build(context.Background(), f.Config(), Env{})
	if err != nil {
		t.Fatal(err)
	}
	if _, flushes := sink.(Flusher); flushes {
		t.Error("the sink is not durable on ack")
	}
	recs := []Record{{Value: []byte(`{"id":1,"_kafka_key":"a","_kafka_offset":5}`)}, {Value: []byte(`{"id":2}`)}}
	if err := sink.(Sender).Send(context.Background(), recs).Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	ch, err := gc.Subscribe(context.Background(), "out")
	if err != nil {
		t.Fatal(err)
	}
	// GoChannel hands persisted messages to a new subscriber concurrently:
	// compare them by payload.
	got := map[string]message.Metadata{}
	for range recs {
		m := <-ch
		got[string(m.Payload)] = m.Metadata
		m.Ack()
	}
	for _, r := range recs {
		if _, ok := got[string(r.Value)]; !ok {
			t.Errorf("no message with payload %s; got %v", r.Value, got)
		}
	}
	if md := got[string(recs[0].Value)]; md.Get("_kafka_key") != "a" || md.Get("_kafka_offset") != "5" {
		t.Errorf("metadata %v, want _kafka_key a and _kafka_offset 5", md)
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	// An empty write publishes nothing, so it cannot fail.
	if err := sink.(Sender).Send(context.Background(), nil).Wait(context.Background()); err != nil {
		t.Errorf("an empty write: %v, want nil (nothing to publish)", err)
	}
	// A Publish that fails fails every record of the write.
	err = sink.(Sender).Send(context.Background(), recs).Wait(context.Background())
	var werr *WriteError
	if !errors.As(err, &werr) || len(werr.Failed) != len(recs) {
		t.Fatalf("write to a closed publisher: %v, want a WriteError naming both records", err)
	}
}

// A stop while nothing takes the source's messages (the router gave up:
// a fatal error, or the drain timed out) does not hang: the batch that was
// not handed on is given back to the Subscriber (nacked), Done closes, and
// Close returns. Before, the source blocked for ever on its channel, and
// Close and the run's drain with it.
func TestSubscriberSourceStopsWhileNobodyReads(t *testing.T) {
	sub := newChanSubscriber(10)
	src := buildForeignSource(t, ForeignSubscriber{Subscriber: sub, Topic: "t", BatchSize: 2})
	if _, err := src.Subscribe(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	sent := sub.send(`{"a":1}`, `{"a":2}`)
	time.Sleep(50 * time.Millisecond) // the source is now blocked handing its batch on
	src.Stop()
	closed := make(chan error, 1)
	go func() { <-src.Done(); closed <- src.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Done/Close hung after Stop with nobody reading")
	}
	for _, m := range sent {
		select {
		case <-m.Nacked():
		default:
			t.Errorf("message %s was not given back (nacked)", m.UUID)
		}
	}
	if err := src.(Failer).Err(); err != nil {
		t.Errorf("a stop is not a failure: %v", err)
	}
}
