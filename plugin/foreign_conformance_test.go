package plugin_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

	"github.com/conveyor-etl/conveyor/plugin"
	"github.com/conveyor-etl/conveyor/plugin/plugintest"
)

type noConfig struct{}

func noDefaults() *noConfig { return &noConfig{} }

// plugin.SubscriberSource over Watermill's GoChannel keeps plugin.Source's
// contract. GoChannel keeps no order when it replays persisted messages,
// and none between messages published without waiting for acks: the input
// is published one message at a time, each once the last was acked, after
// the source subscribed. GoChannel records no progress: each input is read
// by one source, whole (Resumes false).
func TestSubscriberSourceConformance(t *testing.T) {
	plugintest.TestSource(t, plugintest.SourceCase{
		Input: func(t testing.TB, records [][]byte) plugintest.NewSource {
			gc := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, watermill.NopLogger{})
			t.Cleanup(func() { gc.Close() })
			f := plugin.SubscriberSource(noDefaults, func(context.Context, *noConfig, plugin.Env) (plugin.ForeignSubscriber, error) {
				return plugin.ForeignSubscriber{Subscriber: feeding{gc, records}, Topic: "in", BatchSize: 20, Window: 4}, nil
			})
			return func(ctx context.Context) (plugin.Source, error) {
				return f.Build(ctx, noDefaults(), plugin.Env{DurableOnAck: true})
			}
		},
	})
}

// feeding is a GoChannel that publishes records, in order, once
// subscribed to.
type feeding struct {
	*gochannel.GoChannel
	records [][]byte
}

func (f feeding) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	ch, err := f.GoChannel.Subscribe(ctx, topic)
	if err == nil {
		go func() {
			for _, r := range f.records {
				if f.Publish(topic, message.NewMessage(watermill.NewUUID(), r)) != nil {
					return // closed
				}
			}
		}()
	}
	return ch, err
}

// plugin.PublisherSink over Watermill's GoChannel keeps plugin.Sink's
// contract: Publish blocks until a subscriber, the read-back, has taken the
// messages. Its Publisher refuses any message holding "refuse": the whole
// call fails, every record named.
func TestPublisherSinkConformance(t *testing.T) {
	plugintest.TestSink(t, plugintest.SinkCase{
		New: func(t testing.TB) (plugin.Sink, plugintest.ReadBack) {
			gc := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, watermill.NopLogger{})
			ch, err := gc.Subscribe(context.Background(), "out")
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var got [][]byte
			go func() {
				for m := range ch {
					mu.Lock()
					got = append(got, m.Payload)
					mu.Unlock()
					m.Ack()
				}
			}()
			f := plugin.PublisherSink(noDefaults, func(context.Context, *noConfig, plugin.Env) (plugin.ForeignPublisher, error) {
				return plugin.ForeignPublisher{Publisher: refusing{gc}, Topic: "out"}, nil
			})
			s, err := f.Build(context.Background(), noDefaults(), plugin.Env{})
			if err != nil {
				t.Fatal(err)
			}
			return s, func(testing.TB) [][]byte {
				mu.Lock()
				defer mu.Unlock()
				return append([][]byte(nil), got...)
			}
		},
		Failing: []byte(`{"refuse":true}`),
	})
}

// refusing is a Publisher that refuses a call holding a message with
// "refuse" in its payload, publishing none of it.
type refusing struct{ message.Publisher }

func (r refusing) Publish(topic string, msgs ...*message.Message) error {
	for _, m := range msgs {
		if bytes.Contains(m.Payload, []byte("refuse")) {
			return errors.New("refused")
		}
	}
	return r.Publisher.Publish(topic, msgs...)
}
