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
//  1. Read (the source; for kafka connectors/kafka/claim.go): a claim fills
//     a batch of one partition, takes its bytes from the in-flight budget
//     (plugin/budget.go) and a place in the partition's window
//     (internal/checkpoint/window.go), and emits it as a message whose
//     context ends when the claim gives it up.
//  2. Turn (sequencer.go): the message gets the next turn of its source
//     stage, origin and partition, so that several batches of a partition
//     can be in flight while their output keeps the input's order.
//  3. Handle (handler.go): the router calls the handler in a goroutine of
//     its own; outermost recovers panics and times the batch, invalid.go
//     acts on the records the source marked as not valid JSON (wrap,
//     dead-letter through the policy, or fail the batch), and the
//     operators transform the records, with the error policy (policy.go)
//     deciding what becomes of the records they fail.
//  4. Write (dispatch.go): in the batch's turn the dispatcher hands each
//     sink its records, ends the turn once they are queued, and waits until
//     they are durable. It settles each write as durable, failed under
//     [error_handling], or cut off: a write whose context ended (a stop
//     whose drain timed out, a rebalance that took the partition) is never
//     a record failure and never retried, skipped or dead-lettered.
//  5. Ack (dispatch.go, then the router): a batch whose writes are all
//     durable or dealt with by the policy is acked; any other is nacked, so
//     nothing at or after it is committed, and it is read again.
//  6. Commit (the source; for kafka connectors/kafka/claim.go and
//     commit.go): the claim's watcher reports acks to the window in
//     emission order, the window marks the offset below which everything
//     is acked, and the commit loop commits it; a batch leaves the window,
//     freeing its place and its budget bytes, once a confirmed commit
//     covers it. Under [pipeline] guarantee = "exactly-once"
//     (connectors/kafka/txn.go) the commit is the run's Kafka transaction:
//     a batch is inside it from its emit to its ack, and the transaction
//     commits the marked offsets with the records the sinks wrote for them,
//     or aborts and every claim reads again from the last commit.
//
// A stop (stop.go) has one budget, the drain timeout: sources stop reading,
// in-flight batches finish, what is still in flight when the time is up is
// cut off, then the sinks flush and the sources commit what was acked; a
// stage that ignores its context cannot hold the stop more than 1.5 s past
// the budget.
package engine
