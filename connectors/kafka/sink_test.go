package kafka

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/kafkatest"
	"github.com/conveyor-etl/conveyor/plugin"
)

func testSink(t *testing.T, env kafkatest.Env, topic string, maxBytes int) *Sink {
	t.Helper()
	cfg := DefaultSinkConfig()
	cfg.Brokers, cfg.Topic, cfg.MaxMessageBytes, cfg.Retries = env.Brokers, topic, maxBytes, 2
	s, err := NewSink(cfg, plugin.Env{Stage: &config.Stage{ID: "produce"}, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// write writes one record and returns the error it failed with, or nil.
func write(t *testing.T, s *Sink, value string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := s.Send(ctx, []plugin.Record{{Value: []byte(value)}}).Wait(ctx)
	if err == nil {
		return nil
	}
	var we *plugin.WriteError
	if !errors.As(err, &we) || len(we.Errs) != 1 {
		t.Fatalf("write failed with %v, want a *plugin.WriteError for the record", err)
	}
	return we.Errs[0]
}

// The sink's size check counts what sarama's producer counts (the record
// plus its worst-case overhead in a record batch), so a user always gets
// our error, never sarama's "invalid configuration", and it is permanent.
func TestSinkOversizeRecord(t *testing.T) {
	env := kafkatest.Start(t)
	topic := kafkatest.Name("oversize")
	env.CreateTopic(t, topic, 1)
	const limit = 80
	s := testSink(t, env, topic, limit)
	overhead := (&sarama.ProducerMessage{}).ByteSize(2)

	// The largest record that fits is sent.
	fits := `"` + strings.Repeat("x", limit-overhead-2) + `"`
	if err := write(t, s, fits); err != nil {
		t.Fatalf("a record of %d bytes (%d with its overhead) failed under max_message_bytes = %d: %v", len(fits), len(fits)+overhead, limit, err)
	}
	// One byte more, well under the limit by its own length (the old
	// check let it through and sarama failed it), gets our error.
	over := fits + " "
	err := write(t, s, over)
	want := fmt.Sprintf("record of %d bytes (%d with Kafka's record overhead) is larger than max_message_bytes = %d (raise it together with the topic's max.message.bytes)", len(over), len(over)+overhead, limit)
	if err == nil || err.Error() != want {
		t.Fatalf("error %v\nwant     %s", err, want)
	}
	if !plugin.IsPermanent(err) {
		t.Errorf("the oversize error is not permanent: retrying it is pointless")
	}
}

// A record the broker refuses as too large for the topic fails with a
// permanent error; sarama's transient errors stay transient.
func TestSinkErrorsClassified(t *testing.T) {
	for _, tc := range []struct {
		err       error
		permanent bool
	}{
		{sarama.ErrMessageSizeTooLarge, true},
		{sarama.ErrMessageSetSizeTooLarge, true},
		{sarama.ErrInvalidMessage, true},
		{sarama.ErrInvalidRecord, true},
		{sarama.ErrTopicAuthorizationFailed, true},
		{sarama.ConfigurationError("Attempt to produce message larger than configured Producer.MaxMessageBytes: 109 > 80"), true},
		{fmt.Errorf("wrapped: %w", sarama.ErrInvalidTimestamp), true},
		{sarama.ErrNotEnoughReplicas, false},
		{sarama.ErrNotLeaderForPartition, false},
		{sarama.ErrOutOfBrokers, false},
		{context.DeadlineExceeded, false},
	} {
		err := classify(tc.err)
		if plugin.IsPermanent(err) != tc.permanent || !strings.HasPrefix(err.Error(), tc.err.Error()) || !errors.Is(err, tc.err) {
			t.Errorf("classify(%v) = %v, permanent %v; want permanent %v, its text kept, and the error kept", tc.err, err, plugin.IsPermanent(err), tc.permanent)
		}
	}

	env := kafkatest.Start(t)
	topic := kafkatest.Name("small")
	env.CreateTopic(t, topic, 1, "max.message.bytes", "200")
	s := testSink(t, env, topic, 1000000)
	err := write(t, s, `"`+strings.Repeat("x", 500)+`"`)
	if !errors.Is(err, sarama.ErrMessageSizeTooLarge) || !plugin.IsPermanent(err) {
		t.Errorf("a record larger than the topic's max.message.bytes failed with %v (permanent %v); want a permanent %v", err, plugin.IsPermanent(err), sarama.ErrMessageSizeTooLarge)
	}
}

// A record the broker refuses as larger than the topic allows fails
// permanently, naming the settings to raise: the topic's max.message.bytes
// (sarama says only "Message was too large, server rejected it") and the
// sink's max_message_bytes.
func TestSinkRecordLargerThanTopicAllows(t *testing.T) {
	env := kafkatest.Start(t)
	topic := kafkatest.Name("small")
	env.CreateTopic(t, topic, 1, "max.message.bytes", "10000")
	s := testSink(t, env, topic, 1<<20)
	err := write(t, s, `"`+strings.Repeat("x", 20000)+`"`)
	if err == nil {
		t.Fatal("a 20 KB record went to a topic with max.message.bytes = 10000")
	}
	for _, want := range []string{"Message was too large", "max.message.bytes", "message.max.bytes", "max_message_bytes"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if !plugin.IsPermanent(err) {
		t.Errorf("error %v is not permanent", err)
	}
}

// partitions and replication_factor apply to a topic the sink creates:
// without create_topic = true they are refused, saying so.
func TestSinkConfigPartitionsNeedCreateTopic(t *testing.T) {
	cfg := DefaultSinkConfig()
	cfg.Brokers, cfg.Topic, cfg.Partitions = []string{"localhost:9092"}, "out", 6
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "set create_topic = true") {
		t.Errorf("Validate() = %v; want partitions refused without create_topic", err)
	}
	cfg.CreateTopic = true
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate() with create_topic = true: %v", err)
	}
}
