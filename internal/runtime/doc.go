// Package runtime compiles a pipeline into a Watermill router and runs it.
//
// [Compile] checks a pipeline against a registry without touching any
// external system. [Run] builds the components, adds one router handler per
// source, and drives the run to its end: the chain of operators below a
// source is evaluated as plain function calls inside that handler, the
// result is handed to every sink below it in source-partition order, and the
// message is acked only when every sink has made its records durable.
package runtime
