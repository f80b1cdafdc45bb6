package kafka

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/tests"

	"github.com/conveyor-etl/conveyor/internal/kafkatest"
)

// suiteFeatures are the Features of Watermill's universal Pub/Sub suite that
// the message mode honestly supports:
//
//   - ConsumerGroups: every Subscribe is a member of the configured group;
//     two groups each read every message.
//   - ExactlyOnceDelivery false: delivery is at least once (a rebalance or a
//     crash delivers again what was acked since the last commit).
//   - GuaranteedOrder: a partition's messages are delivered one at a time, in
//     offset order, the next only once the previous is acked, and the suite's
//     topics have one partition (SubscribeInitialize creates them so). With
//     several partitions the order holds per partition (per key) only.
//     GuaranteedOrderWithSingleSubscriber is off: several members of one
//     group keep the order too, as one partition has one owner at a time.
//   - Persistent: messages are Kafka records; a new Subscriber of the group
//     continues from the group's committed offsets.
//   - NewSubscriberReceivesOldMessages false: a second Subscriber of the same
//     group shares its partitions rather than reading everything again; there
//     is no group-less mode.
//   - RestartServiceCommand nil: restarting the broker would break the other
//     tests sharing it; broker restarts are the fault tests' job.
//   - ContextPreserved false: no context travels through Kafka; a message's
//     context ends when it is acked, nacked or its subscription ends.
var suiteFeatures = tests.Features{
	ConsumerGroups:                   true,
	ExactlyOnceDelivery:              false,
	GuaranteedOrder:                  true,
	Persistent:                       true,
	NewSubscriberReceivesOldMessages: false,
	ContextPreserved:                 false,
}

// TestWatermillPubSubSuite runs Watermill's universal Pub/Sub test suite
// against the message mode's Publisher and Subscriber, on the real broker of
// KAFKA_BROKERS (set KAFKA_PUBSUB_EMBEDDED=1 to run it on the in-process
// broker while iterating).
func TestWatermillPubSubSuite(t *testing.T) {
	if os.Getenv("KAFKA_BROKERS") == "" && os.Getenv("KAFKA_PUBSUB_EMBEDDED") == "" {
		t.Skip("SKIPPED: Watermill's Pub/Sub suite runs against a real broker: set KAFKA_BROKERS (scripts/kafka.sh up gives 127.0.0.1:9092), " +
			"or KAFKA_PUBSUB_EMBEDDED=1 for the in-process one")
	}
	env := kafkatest.Start(t)
	tests.TestPubSub(t, suiteFeatures,
		func(t *testing.T) (message.Publisher, message.Subscriber) {
			// One group per test: the constructions of one test share it
			// (persistence is read back through it), other tests do not
			// rebalance it.
			return suitePubSub(t, env, strings.ReplaceAll(t.Name(), "/", "."))
		},
		func(t *testing.T, group string) (message.Publisher, message.Subscriber) {
			return suitePubSub(t, env, group)
		})
}

func suitePubSub(t *testing.T, env kafkatest.Env, group string) (*Publisher, *Subscriber) {
	t.Helper()
	pub, err := NewPublisher(DefaultPublisherConfig(env.Brokers...))
	if err != nil {
		t.Fatal(err)
	}
	sc := DefaultSubscriberConfig(group, env.Brokers...)
	// Members come and go all the time in the suite: rebalance quickly.
	sc.SessionTimeout = 6 * time.Second
	sc.DrainTimeout = 2 * time.Second
	sub, err := NewSubscriber(sc)
	if err != nil {
		t.Fatal(err)
	}
	return pub, sub
}
