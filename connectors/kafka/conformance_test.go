package kafka

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/kafkatest"
	"github.com/conveyor-etl/conveyor/plugin"
	"github.com/conveyor-etl/conveyor/plugin/plugintest"
)

// The kafka source keeps plugin.Source's contract (plugintest's suite) on
// the embedded broker, or KAFKA_BROKERS: a topic of three partitions, each
// check on a topic and group of its own, progress in the group's offsets.
// (Named Integration so that .ci/run runs them on the real broker too.)
func TestIntegrationKafkaSourceConformance(t *testing.T) {
	env := kafkatest.Start(t)
	plugintest.TestSource(t, plugintest.SourceCase{
		Resumes: true,
		Input: func(t testing.TB, records [][]byte) plugintest.NewSource {
			topic, group := kafkatest.Name("conform-src"), kafkatest.Name("conform-group")
			env.CreateTopic(t, topic, 3)
			msgs := make([]kafkatest.Msg, len(records))
			for i, r := range records {
				msgs[i] = kafkatest.Msg{Partition: int32(i % 3), Value: r}
			}
			env.Produce(t, topic, msgs)
			return func(ctx context.Context) (plugin.Source, error) {
				c := DefaultSourceConfig()
				c.Brokers, c.Topic, c.GroupID = env.Brokers, topic, group
				c.MaxMessages, c.BatchSize, c.Window, c.BatchLinger = 0, 20, 4, time.Millisecond
				return Spec().Source.Build(ctx, c, plugin.Env{Stage: &config.Stage{ID: "consume"}, Logger: zap.NewNop(), DurableOnAck: true})
			}
		},
	})
}

// The kafka sink keeps plugin.Sink's contract: what Publish acknowledged
// is read back from the topic (one partition) at once; a record over
// max_message_bytes is the record it fails.
func TestIntegrationKafkaSinkConformance(t *testing.T) {
	env := kafkatest.Start(t)
	plugintest.TestSink(t, plugintest.SinkCase{
		New: func(t testing.TB) (plugin.Sink, plugintest.ReadBack) {
			topic := kafkatest.Name("conform-sink")
			env.CreateTopic(t, topic, 1)
			c := DefaultSinkConfig()
			c.Brokers, c.Topic, c.MaxMessageBytes, c.Retries = env.Brokers, topic, 1000, 2
			s, err := Spec().Sink.Build(context.Background(), c, plugin.Env{Stage: &config.Stage{ID: "produce"}, Logger: zap.NewNop()})
			if err != nil {
				t.Fatal(err)
			}
			return s, func(t testing.TB) [][]byte {
				var out [][]byte
				for _, m := range env.ReadAll(t, topic) {
					out = append(out, m.Value)
				}
				return out
			}
		},
		Failing: []byte(`{"big":"` + strings.Repeat("x", 2000) + `"}`),
	})
}
