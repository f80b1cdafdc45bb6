// Package state is the runtime of stateful stages (see [plugin.Processor]):
// per input partition a store, a watermark and timers; the changes each
// batch made, written to the stage's changelog once the batch's output is
// durable and before its offsets are committed; and the restore of a
// partition from the changelog before its first record is processed.
//
// # What a commit covers
//
// A batch of partition p is processed by a stage only after the batch
// before it in p (the engine waits for its turn), so the partition's state
// moves in input order. Processing captures the batch's changes: for every
// key it touched, the value at the end of the batch (nil when deleted),
// plus the offset after the batch's last record and the watermark. Once
// every sink has made the batch's output durable, the engine calls
// [Pending.Write], which writes those changes to the changelog, in the
// partition's batch order, and returns when they are durable; only then is
// the batch acked and its offsets may be committed. A batch that fails
// before that abandons its changes and every later batch of the partition
// ([Pending.Abandon]): the partition's state is dropped and restored from
// the changelog when its next batch comes.
//
// Restored state says where its input was: records at offsets below the
// restored offset are skipped (their effect is in the state and their
// output was durable before the changelog write). So a crash between the
// changelog write and the offset commit repeats nothing; a crash between
// the output being durable and the changelog write makes the next owner
// emit that batch's output again (at-least-once), with the same counts.
//
// # Stores
//
// A partition's keys live in a store (store.go): the memory store, a Go
// map, or, with [Stage.UseDisk] ([global] state_dir), the disk store
// (disk.go), a Pebble database per partition under
// <state_dir>/<changelog>/<partition>. The disk store's database holds only
// what the changelog holds, up to a checkpoint (the changelog offset,
// written in the same Pebble batch as the changes it covers, once their
// changelog write returned); the changes of batches not written yet stay in
// an overlay in memory, read first. A partition is restored from the
// checkpoint on, its store wiped first when it was written from another
// changelog or its checkpoint is past the changelog's end, and closed when
// its claim ends. The same contract tests run over both stores.
package state
