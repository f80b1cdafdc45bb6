// Package engine compiles a pipeline into a Watermill router and runs it.
//
// [Compile] checks a pipeline against a registry without touching any
// external system. [Run] builds the components and adds one router handler
// per source (router.AddHandler): the source is the handler's Subscriber,
// the operators below it are Watermill middleware, and the handler's
// Publisher is the dispatcher, which hands each sink its records.
//
// # The path of a batch
//
// Each (source stage, partition) has one owner, its lane
// (internal/lane/lane.go), which holds a batch from read to commit: its
// budget bytes, its window place, its cancellation, its outcome and its
// ack; why an offset was or was not committed is the lane's to say
// (Lane.Why). The kafka source has a lane per partition; a source with no
// offsets to commit (json.read, a foreign Subscriber) settles its batches
// in emission order with its own ack watcher (internal/emitter,
// plugin/foreign.go), and gets its turns from step 2 like any other.
//
//  1. Read and admit (the source; for kafka connectors/kafka/claim.go): a
//     claim fills a batch of one partition; the partition's lane admits it
//     (its bytes from the run's budget, plugin/budget.go, and a place in the
//     lane's window, internal/checkpoint/window.go), gives it the claim's
//     context, which ends when the lane gives it up, and the source emits
//     it.
//  2. Turn (sequencer.go): the message gets the next turn of its lane
//     (source stage, origin and partition), so that several batches of a
//     lane can be in flight while their output keeps the input's order.
//  3. Handle (handler.go): the router calls the handler in a goroutine of
//     its own; outermost recovers panics and times the batch, invalid.go
//     acts on the records the source marked as not valid JSON, and the
//     operators transform the records, with the error policy (policy.go)
//     deciding what becomes of the records they fail.
//  4. Write and settle (dispatch.go): in the batch's turn the dispatcher
//     hands each sink its records, ends the turn once they are queued, and
//     waits until they are durable. It settles each write as durable,
//     failed under [error_handling], or cut off: a write whose context
//     ended (a stop whose drain timed out, a rebalance that took the
//     partition) is never a record failure and never retried, skipped or
//     dead-lettered. The router acks a batch whose writes all settled
//     durable or dealt with, and nacks any other.
//  5. Outcome (internal/lane/lane.go): the lane reads the acks in
//     admission order against its own cancellation: an ack is durable, a
//     nack of a batch it gave up is cut off (read again, not a failure),
//     any other nack is failed (the source fails, and nothing at or after
//     it is committed). The window's mark moves over the durable prefix.
//  6. Commit (internal/lane/commit.go, for kafka connectors/kafka/commit.go
//     and source.go's commit loop): the lanes' Committable offsets go to the
//     source's one lane.Committer (the consumer group's offset commit; with
//     exactly-once, the transaction that carries the output,
//     connectors/kafka/txn.go: a batch is inside it from its emit to its
//     ack, and it commits the marked offsets with the records written for
//     them, or aborts and every claim reads again from the last commit);
//     each offset it confirms frees the places and budget bytes of the
//     batches it covers (Lane.Committed).
//
// A stop (stop.go) has one budget, the drain timeout: sources stop reading,
// in-flight batches finish, what is still in flight when the time is up is
// cut off, then the sinks flush and the sources commit what was acked; a
// stage that ignores its context cannot hold the stop more than 1.5 s past
// the budget.
package engine
