// Package pipetest runs the test files of `conveyor test`: a pipeline, the
// records fed to its sources and what must come out of its sinks.
//
// A case runs the pipeline as it is, through the engine, with a registry
// in which every source and sink is replaced by an in-memory fixture that
// takes the same config keys (so they are checked as in production). The
// kafka source fixture adds the _kafka_* fields with the kafka source's own
// enrichment (record.Enrich), at offsets numbered per partition from 0; the
// kafka sink fixture keys and partitions records as the kafka sink does
// (key_field, tombstones, Java's murmur2 over the test's partitions).
// Operators, [error_handling] and the dead-letter queue run unchanged; a
// dead-letter file is written to a temporary directory instead of its path.
//
// Records at a sink and dead letters are compared in the order of the
// inputs they came from (a batch's origin, partition and offset name the
// input), whatever the order the partitions ran in.
//
// With Options.Embedded, a case runs instead through an in-process broker
// (internal/devkafka) with the real kafka source and sink (other functions
// keep their fixtures): the inputs are produced to the source topics and
// what the sinks wrote is read back from theirs.
package pipetest
