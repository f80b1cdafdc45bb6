// Package plugintest is a conformance suite for Conveyor functions: a
// third-party source, sink or operator runs it from its own tests to check
// that it keeps the contracts of package plugin (see plugin.Source,
// plugin.Sink, plugin.Operator, plugin.Batch and plugin.OperatorMiddleware).
//
//	func TestConformance(t *testing.T) {
//		plugintest.TestSink(t, plugintest.SinkCase{New: func(t testing.TB) (plugin.Sink, plugintest.ReadBack) {...}})
//	}
//
// [TestSource], [TestSink] and [TestOperator] run one subtest per contract
// (ack, order, durability, cancellation; see each case type for the list);
// [CheckSource], [CheckSink] and [CheckOperator] run the same checks
// outside a test and return what failed. A check that does not apply to the
// function (a sink with no record it can fail, a source with no notion of
// progress) is skipped, saying why.
//
// The suite feeds functions records of its own: JSON objects with a "seq"
// number (and, for sinks, a "g" writer number and some padding). A source
// case writes them to its input (a file, a topic, a queue); a sink case
// reads back what its sink made durable. Run the tests with -race: several
// checks call a function from many goroutines at once.
package plugintest
