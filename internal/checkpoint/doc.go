// Package checkpoint is the in-order offset bookkeeping of one partition
// of a source: which batches are in flight, how many may be, and the
// offset up to which everything is acked and so may be committed.
//
// It knows nothing of Kafka or of any client: a source tracks each batch
// it emits by its offset range, reports the batch's ack or nack, and
// reports the commits its broker confirmed; the Window answers with the
// offset to commit and blocks the source while its window is full. The
// model is Redpanda Connect's internal/checkpoint (Capped).
package checkpoint
