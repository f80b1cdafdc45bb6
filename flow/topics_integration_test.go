package flow_test

// Topics are never created by accident: a source never creates its topic
// (whatever the broker's auto.create.topics.enable), a sink creates its
// topic only with create_topic = true. The in-process broker creates topics
// on first use, as does real Kafka by default, so these tests show the
// client does not ask it to.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/kafkatest"
	"github.com/conveyor-etl/conveyor/internal/kafkautil"
)

// topicPartitions is how many partitions topic has, 0 when it does not
// exist; asking does not create it.
func topicPartitions(t *testing.T, env kafkatest.Env, topic string) int {
	t.Helper()
	sc := kafkautil.Config()
	sc.Metadata.AllowAutoTopicCreation = false
	admin, err := sarama.NewClusterAdmin(env.Brokers, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	topics, err := admin.ListTopics()
	if err != nil {
		t.Fatal(err)
	}
	return int(topics[topic].NumPartitions)
}

func TestIntegrationSourceNeverCreatesItsTopic(t *testing.T) {
	env := kafkatest.Start(t)
	in, out := kafkatest.Name("no-such-topic"), kafkatest.Name("out")
	env.CreateTopic(t, out, 1)
	took, err := runText(t, etlText(env.BrokerList(), in, out, kafkatest.Name("g"), ""), time.Minute)
	assertKinds(t, err, []string{"kafka.ErrTopicNotFound"}, fmt.Sprintf(`kafka source "consume": topic %q does not exist`, in), "never creates", "wait_for_topic_ms")
	if n := topicPartitions(t, env, in); n != 0 {
		t.Errorf("the run created the source's topic %q (%d partitions)", in, n)
	}
	if took > 15*time.Second {
		t.Errorf("took %s to fail", took)
	}
}

func TestIntegrationSourceWaitsForTopicWhenAsked(t *testing.T) {
	env := kafkatest.Start(t)
	in, out := kafkatest.Name("late"), kafkatest.Name("out")
	env.CreateTopic(t, out, 1)
	go func() {
		time.Sleep(1500 * time.Millisecond)
		env.CreateTopic(t, in, 1)
		env.Produce(t, in, []kafkatest.Msg{{Partition: 0, Value: []byte(`{"n":1}`)}, {Partition: 0, Value: []byte(`{"n":2}`)}})
	}()
	_, err := runText(t, etlText(env.BrokerList(), in, out, kafkatest.Name("g"), "wait_for_topic_ms = 30000\nmax_messages = 2"), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if got := env.ReadAll(t, out); len(got) != 2 {
		t.Fatalf("wrote %d records, want 2", len(got))
	}
}

func TestIntegrationSinkTopicIsAChoice(t *testing.T) {
	env := kafkatest.Start(t)
	in := kafkatest.Name("in")
	env.CreateTopic(t, in, 1)
	env.Produce(t, in, []kafkatest.Msg{{Partition: 0, Value: []byte(`{"n":1}`)}})

	missing := kafkatest.Name("missing-out")
	_, err := runText(t, etlText(env.BrokerList(), in, missing, kafkatest.Name("g"), "max_messages = 1"), time.Minute)
	assertKinds(t, err, []string{"kafka.ErrTopicNotFound"}, fmt.Sprintf(`kafka sink "produce": topic %q does not exist`, missing), "create_topic = true")
	if n := topicPartitions(t, env, missing); n != 0 {
		t.Errorf("the failed run created the sink's topic %q (%d partitions)", missing, n)
	}

	created := kafkatest.Name("created-out")
	text := etlText(env.BrokerList(), in, created, kafkatest.Name("g"), "max_messages = 1") + "create_topic = true\npartitions = 2\n"
	if _, err := runText(t, text, time.Minute); err != nil {
		t.Fatal(err)
	}
	if n := topicPartitions(t, env, created); n != 2 {
		t.Errorf("create_topic made %q with %d partitions, want 2", created, n)
	}
	if got := env.ReadAll(t, created); len(got) != 1 {
		t.Errorf("wrote %d records, want 1", len(got))
	}
}

// A run that read nothing from a topic that exists says so as it ends.
func TestIntegrationEmptyTopicSaysSo(t *testing.T) {
	env := kafkatest.Start(t)
	in, out := kafkatest.Name("empty"), kafkatest.Name("out")
	env.CreateTopic(t, in, 2)
	env.CreateTopic(t, out, 1)
	p, err := config.Parse("empty.toml", []byte(etlText(env.BrokerList(), in, out, kafkatest.Name("g"), "timeout_ms = 1000")))
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.WarnLevel)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sum, err := flow.Execute(ctx, p, flow.WithLogger(zap.New(core)))
	if err != nil || sum.In != 0 {
		t.Fatalf("in=%d err=%v; want an empty run that succeeds", sum.In, err)
	}
	want := fmt.Sprintf(`kafka source "consume" read no records: topic %q holds none`, in)
	for _, e := range logs.All() {
		if strings.Contains(e.Message, want) {
			return
		}
	}
	t.Errorf("no warning %q among %d warnings", want, logs.Len())
}
