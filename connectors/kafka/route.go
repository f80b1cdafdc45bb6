package kafka

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/expr"
	"github.com/conveyor-etl/conveyor/internal/record"
)

// router picks a record's topic, key and partition by the sink's
// expressions (topic_expr, key_expr, partition_expr); a nil program leaves
// the choice to the fixed keys. It is safe for concurrent use.
type router struct {
	topic, key, partition *expr.Program
	maxTopics             int
	// exists checks that a topic the run has not written yet exists (nil:
	// no check, the producer finds out).
	exists func(topic string) error
	// partitions returns a topic's partition count (nil: no check).
	partitions func(topic string) (int, error)

	mu      sync.Mutex
	topics  map[string]bool      // the topics taken, at most maxTopics
	missing map[string]time.Time // topics found missing, and when
}

// compileExprs compiles the sink's expressions; the error names the key
// and the column inside the expression.
func (c *MessageConfig) compileExprs() (topic, key, partition *expr.Program, err error) {
	var errs []error
	compile := func(key, src string) *expr.Program {
		if src == "" {
			return nil
		}
		p, err := expr.Compile(src)
		if err != nil {
			errs = append(errs, config.Invalid(key, "%v", err))
		}
		return p
	}
	topic, key, partition = compile("topic_expr", c.TopicExpr), compile("key_expr", c.KeyExpr), compile("partition_expr", c.PartitionExpr)
	return topic, key, partition, errors.Join(errs...)
}

// pickTopic returns the record's topic by topic_expr. A value that is not
// a valid topic name, a topic that does not exist, or one beyond
// max_topics fails the record, naming the value.
func (r *router) pickTopic(rec []byte) (string, error) {
	v, out, err := r.topic.Eval(rec)
	t, ok := v.Text()
	switch {
	case err != nil:
		return "", fmt.Errorf("topic_expr: %w", err)
	case !ok && out&expr.Missing != 0:
		return "", errors.New("topic_expr gave no topic: a field it reads is missing")
	case !ok && v.Kind() == expr.KindMissing:
		return "", errors.New("topic_expr gave no topic: a field it reads is not of a type it takes")
	case !ok:
		return "", fmt.Errorf("topic_expr gave no topic: %s is not text", describe(v))
	}
	if err := validTopic(t); err != nil {
		return "", fmt.Errorf("topic_expr gave %q, which is not a valid topic name: %v", t, err)
	}
	return t, r.take(t)
}

// take admits topic t: one taken before, or a new one that exists while
// fewer than maxTopics are taken.
func (r *router) take(t string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.topics[t] {
		return nil
	}
	if len(r.topics) >= r.maxTopics {
		return fmt.Errorf("topic_expr gave %q, one topic more than max_topics = %d allows this run", t, r.maxTopics)
	}
	if at, ok := r.missing[t]; ok && time.Since(at) < missingRecheck {
		return fmt.Errorf("topic_expr gave %q, a topic that does not exist", t)
	}
	if r.exists != nil {
		if err := r.exists(t); err != nil {
			r.missing[t] = time.Now()
			return fmt.Errorf("topic_expr gave %q: %w", t, err)
		}
	}
	delete(r.missing, t)
	r.topics[t] = true
	return nil
}

// missingRecheck is how long a topic found missing is taken to stay so
// before it is asked for again.
const missingRecheck = time.Second

// pickKey returns the record's key by key_expr; ok is false for null or a
// missing field (the record goes unkeyed).
func (r *router) pickKey(rec []byte) (key []byte, ok bool, err error) {
	v, _, err := r.key.Eval(rec)
	if err != nil {
		return nil, false, fmt.Errorf("key_expr: %w", err)
	}
	switch v.Kind() {
	case expr.KindMissing, expr.KindNull:
		return nil, false, nil
	}
	t, ok := v.Text()
	if !ok {
		return nil, false, fmt.Errorf("key_expr gave %s, not a key: want a string, a number or a boolean", describe(v))
	}
	return []byte(t), true, nil
}

// pickPartition returns the record's partition of topic by
// partition_expr, or -1 for null or a missing field (partitioned by key).
func (r *router) pickPartition(rec []byte, topic string) (int32, error) {
	v, _, err := r.partition.Eval(rec)
	if err != nil {
		return -1, fmt.Errorf("partition_expr: %w", err)
	}
	switch v.Kind() {
	case expr.KindMissing, expr.KindNull:
		return -1, nil
	}
	f, ok := v.Float()
	if !ok || f < 0 || f != math.Trunc(f) || f > math.MaxInt32 {
		return -1, fmt.Errorf("partition_expr gave %s, not a partition number", describe(v))
	}
	if r.partitions != nil {
		n, err := r.partitions(topic)
		if err != nil {
			return -1, fmt.Errorf("partition_expr: partitions of topic %q: %w", topic, err)
		}
		if int(f) >= n {
			return -1, fmt.Errorf("partition_expr gave %d, but topic %q has %d partitions (0 to %d)", int(f), topic, n, n-1)
		}
	}
	return int32(f), nil
}

// describe shows an expression's value in an error.
func describe(v expr.Value) string {
	if v.Kind() == expr.KindMissing {
		return "no value"
	}
	b, err := v.AppendJSON(nil)
	if err != nil {
		return "no value"
	}
	return record.Clip(b)
}

// validTopic checks a topic name as the broker does: 1 to 249 characters
// of ASCII letters, digits, '.', '_' and '-', and neither "." nor "..".
func validTopic(t string) error {
	switch {
	case t == "":
		return errors.New("empty")
	case t == "." || t == "..":
		return errors.New(`"." and ".." are not allowed`)
	case len(t) > 249:
		return fmt.Errorf("%d characters, over 249", len(t))
	}
	if i := strings.IndexFunc(t, func(c rune) bool {
		return !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-')
	}); i >= 0 {
		return fmt.Errorf("%q is not allowed (only ASCII letters, digits, '.', '_' and '-')", []rune(t[i:])[0])
	}
	return nil
}

// topicExists asks a broker, once and without retries, whether topic
// exists, creating it first with create_topic = true.
func topicExists(client sarama.Client, cfg *SinkConfig) func(string) error {
	return func(topic string) error {
		if cfg.CreateTopic {
			if err := createTopic(client, cfg, topic); err != nil {
				return mark(fmt.Errorf("create_topic: creating it: %w", err), accessKind(err)...)
			}
		}
		b := client.LeastLoadedBroker()
		if b == nil {
			return errors.New("no broker to ask whether the topic exists")
		}
		resp, err := b.GetMetadata(sarama.NewMetadataRequest(client.Config().Version, []string{topic}))
		if err != nil {
			return err
		}
		for _, t := range resp.Topics {
			switch {
			case t.Name != topic, errors.Is(t.Err, sarama.ErrNoError), errors.Is(t.Err, sarama.ErrLeaderNotAvailable):
			case errors.Is(t.Err, sarama.ErrUnknownTopicOrPartition):
				return mark(errors.New("the topic does not exist: create it first, or set create_topic = true to have the sink create it"), ErrTopicNotFound)
			default:
				return t.Err
			}
		}
		return nil
	}
}

// partitionCount is the number of partitions of topic as the client's
// metadata knows them.
func partitionCount(client sarama.Client) func(string) (int, error) {
	return func(topic string) (int, error) {
		ps, err := client.Partitions(topic)
		return len(ps), err
	}
}
