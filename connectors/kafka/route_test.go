package kafka

import (
	"errors"
	"strings"
	"testing"

	"github.com/IBM/sarama"

	"github.com/conveyor-etl/conveyor/plugin"
)

func routedEncoder(t *testing.T, set func(*SinkConfig)) *encoder {
	t.Helper()
	cfg := DefaultSinkConfig()
	cfg.Brokers = []string{"localhost:9092"}
	set(cfg)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	e, err := newEncoder(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.route.exists = func(topic string) error {
		if strings.HasSuffix(topic, "-missing") {
			return errors.New("the topic does not exist")
		}
		return nil
	}
	e.route.partitions = func(string) (int, error) { return 3, nil }
	return e
}

func encodeWith(e *encoder, rec string) (*sarama.ProducerMessage, error) {
	m := &sarama.ProducerMessage{}
	var arena []byte
	_, err := e.encode(m, []byte(rec), &arena, nil)
	return m, err
}

// topic_expr picks each record's topic; a value that is not a topic name,
// a topic that does not exist, or one over max_topics fails that record,
// permanently, naming the value; the topics taken stay usable.
func TestRouteTopic(t *testing.T) {
	e := routedEncoder(t, func(c *SinkConfig) { c.TopicExpr, c.MaxTopics = "'orders-' + lower(country)", 3 })
	for rec, want := range map[string]string{
		`{"country":"FR"}`: "orders-fr", `{"country":"de"}`: "orders-de",
	} {
		m, err := encodeWith(e, rec)
		if err != nil || m.Topic != want {
			t.Errorf("%s: topic %q, %v; want %q", rec, m.Topic, err, want)
		}
	}
	// a missing topic does not count against max_topics
	for _, tt := range [][2]string{
		{`{"country":"missing"}`, `topic_expr gave "orders-missing": the topic does not exist`},
		{`{"country":"it"}`, ``},
		{`{"country":"es"}`, `topic_expr gave "orders-es", one topic more than max_topics = 3 allows this run`},
		{`{"country":"a b"}`, `topic_expr gave "orders-a b", which is not a valid topic name: ' ' is not allowed`},
		{`{"other":1}`, `topic_expr gave no topic: a field it reads is missing`},
		{`{"country":["x"]}`, `topic_expr`},
	} {
		rec, msg := tt[0], tt[1]
		_, err := encodeWith(e, rec)
		if msg == "" {
			if err != nil {
				t.Errorf("%s: %v", rec, err)
			}
			continue
		}
		if err == nil || !plugin.IsPermanent(err) || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: error %v, want a permanent one with %q", rec, err, msg)
		}
	}
	if m, err := encodeWith(e, `{"country":"FR"}`); err != nil || m.Topic != "orders-fr" {
		t.Errorf("a topic taken before: %q, %v", m.Topic, err)
	}
	if err := validTopic(strings.Repeat("a", 250)); err == nil {
		t.Error("a 250-character topic name passes")
	}
}

// key_expr gives the key (null or missing: unkeyed); partition_expr the
// partition (null: -1, for the partitioner), checked against the topic's.
func TestRouteKeyAndPartition(t *testing.T) {
	e := routedEncoder(t, func(c *SinkConfig) {
		c.Topic, c.KeyExpr, c.PartitionExpr = "t", "user_id + ':' + country", "p"
	})
	m, err := encodeWith(e, `{"user_id":"u7","country":"FR","p":2}`)
	if err != nil || string(m.Key.(sarama.ByteEncoder)) != "u7:FR" || m.Partition != 2 || m.Topic != "t" {
		t.Fatalf("key %v partition %d topic %q err %v", m.Key, m.Partition, m.Topic, err)
	}
	m, err = encodeWith(e, `{"p":null}`)
	if err != nil || m.Key != nil || m.Partition != -1 {
		t.Errorf("null partition, no key fields: key %v partition %d err %v", m.Key, m.Partition, err)
	}
	for rec, msg := range map[string]string{
		`{"user_id":"u","country":"x","p":3}`:   `partition_expr gave 3, but topic "t" has 3 partitions (0 to 2)`,
		`{"user_id":"u","country":"x","p":1.5}`: `partition_expr gave 1.5, not a partition number`,
		`{"user_id":"u","country":"x","p":"a"}`: `partition_expr gave "a", not a partition number`,
	} {
		_, err := encodeWith(e, rec)
		if err == nil || !plugin.IsPermanent(err) || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: error %v, want %q", rec, err, msg)
		}
	}
}

// The expression keys are checked at validate: a compile error names the
// key and the column; topic/topic_expr and key_field/key_expr exclude each
// other.
func TestRouteValidate(t *testing.T) {
	for _, tt := range []struct {
		set func(*SinkConfig)
		msg string
	}{
		{func(c *SinkConfig) { c.TopicExpr = "'a' +" }, "topic_expr: column"},
		{func(c *SinkConfig) { c.Topic, c.KeyExpr = "t", "lower(" }, "key_expr: column"},
		{func(c *SinkConfig) { c.Topic, c.PartitionExpr = "t", "p ==" }, "partition_expr: column"},
		{func(c *SinkConfig) { c.Topic, c.TopicExpr = "t", "'x'" }, "set topic or topic_expr, not both"},
		{func(c *SinkConfig) { c.Topic, c.KeyField, c.KeyExpr = "t", "a", "b" }, "set key_field or key_expr, not both"},
		{func(c *SinkConfig) {}, "topic: missing"},
	} {
		cfg := DefaultSinkConfig()
		cfg.Brokers = []string{"localhost:9092"}
		tt.set(cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("error %v, want %q", err, tt.msg)
		}
	}
}
