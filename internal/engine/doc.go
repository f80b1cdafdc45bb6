// Package engine compiles a pipeline into a Watermill router and runs it.
//
// [Compile] checks a pipeline against a registry without touching any
// external system. [Run] builds the components and adds one router handler
// per source (router.AddHandler): the source is the handler's Subscriber,
// wrapped so that the sequencer gives each batch its turn in its partition;
// the handler is the operators below the source composed as Watermill
// middleware (handler.go), producing one message per sink below; the
// handler's Publisher is the dispatcher (dispatch.go), which hands each sink
// its records in the batch's turn and returns once they are durable or the
// error policy dealt with them. The router acks the source's message only
// after that, and the run ends by flushing the sinks that need it and
// committing the sources.
package engine
