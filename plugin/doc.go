// Package plugin holds what a Conveyor function implements and the registry
// that names them.
//
// A stage's function is a [Spec]: a name, the plugin it belongs to, and a
// factory for each role it can play. A stage with no inputs is a [Source]; a
// stage with inputs is an [Operator] when the function has one, and a [Sink]
// otherwise (so "kafka" reads when it has no inputs and writes when it has).
//
// The stage contracts are Watermill's own. A [Source] is a
// message.Subscriber that emits one message per [Batch] of records (JSON
// Lines in the payload, where they came from in the metadata: see [Batch]).
// An [Operator] runs as a message.HandlerMiddleware built by
// [OperatorMiddleware]: the operators below a source are composed into that
// source's router handler, called as plain functions on each batch. A [Sink]
// is a message.Publisher whose Publish returns only when every record it was
// handed is durable. The router acks a source's message only after the sinks'
// Publish returned, and a source records progress (commits offsets) only for
// acked messages: at-least-once comes from Watermill's own contract.
//
// Optional interfaces refine a stage: [Sender] and [Flusher] for sinks,
// [Committer], [Failer] and [Counter] for sources, [Reporter] for any.
package plugin
