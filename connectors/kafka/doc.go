// Package kafka is Conveyor's Kafka source and sink, the function "kafka".
//
// A kafka stage with no inputs is a [Source]: a sarama consumer group that
// reads each claimed partition into in-order batches and emits one Watermill
// message per batch. Offsets are marked in order, per partition, only for
// batches whose message was acked, so a crash replays at most the batches in
// flight (window × batch_size records per partition) and never skips one.
// The source sends its own offset commits, on a connection of their own to
// the group coordinator (commitconn.go), so that a commit never waits behind
// a fetch long poll nor a fetch behind a commit.
//
// A kafka stage with inputs is a [Sink]: one idempotent sarama AsyncProducer
// (acks=all) per stage. A write returns at once and its Pending resolves when
// the broker has acknowledged every record, so several batches can be in
// flight while offsets still wait for their acks.
//
// [NewPublisher] and [NewSubscriber] are that producer and that consumer
// group as a plain Watermill Pub/Sub (message mode, pubsub.go): one Kafka
// record per message, its UUID and metadata in headers (watermill-kafka's),
// a partition's messages handed out one at a time and committed only once
// acked. Watermill's universal Pub/Sub test suite runs against them
// (pubsub_suite_test.go lists the features they claim, and why).
//
// delivery = "per-message" swaps both for watermill-kafka's own Subscriber and
// Publisher (one message per record, one synchronous send per message), kept
// for compatibility and as a benchmark baseline.
//
// A stage that fails says why in words and wraps one of the sentinels of
// errors.go ([ErrUnreachable], [ErrAuthentication], [ErrAuthorization],
// [ErrTopicNotFound], [ErrGroupRefused], [ErrCommitRefused]) for programs
// to branch on with errors.Is.
package kafka
