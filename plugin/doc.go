// Package plugin holds what a Conveyor function implements and the registry
// that names them.
//
// A stage's function is a [Spec]: a name, the plugin it belongs to, and a
// factory for each role it can play. A stage with no inputs is a [Source]; a
// stage with inputs is an [Operator] when the function has one, and a [Sink]
// otherwise (so "kafka" reads when it has no inputs and writes when it has).
//
// Records travel as JSON bytes in batches. A source emits one Watermill
// message per [Batch]; the runner calls the operators of a chain as plain
// functions on the batch and hands the result to the sinks; the message is
// acked only when every sink has made its records durable, and a source
// records progress (commits offsets) only for acked messages.
package plugin
