package kafkautil

import (
	"errors"
	"fmt"
	"sort"

	"github.com/IBM/sarama"
)

// Span is what a partition's log holds between two offsets, as a consumer
// at one isolation level would see it.
type Span struct {
	// Records counts the records a consumer would deliver: every record but
	// control records (transaction commit and abort markers), and with
	// ReadCommitted also but the records of aborted transactions.
	Records int64
	// Complete reports that the log was read up to the span's end. It is
	// false when it stops before: with ReadCommitted at the last stable
	// offset (a transaction still open), or when stopAtFirst stopped at a
	// record.
	Complete bool
}

// Deliverable reads partition's log in [from, end) from its leader, as a
// consumer at iso would, and reports what it holds. It is how a reader
// bounded by an end offset knows, without a timeout, that what is left
// before the end is only transaction markers or aborted records (Span{0,
// true}): the consumer reads past them without delivering anything, so no
// delivered record ever reaches the end. With stopAtFirst it stops at the
// first deliverable record (Records is then 1 and Complete false).
//
// The decision follows sarama's consumer (parseResponse): a control batch
// is never delivered; a transactional batch whose producer has an aborted
// transaction starting at or before the batch's last offset, and no abort
// marker since, is skipped under ReadCommitted. It does not wait for data
// (MaxWait 0).
func Deliverable(client sarama.Client, topic string, partition int32, from, end int64, iso sarama.IsolationLevel, stopAtFirst bool) (Span, error) {
	var s Span
	size := int32(4 << 20)
	if stopAtFirst {
		size = 64 << 10 // the broker still returns a first batch larger than this
	}
	complete, err := Scan(client, topic, partition, from, end, iso, size, func(int64, *sarama.Record) bool {
		s.Records++
		return !stopAtFirst
	})
	s.Complete = complete
	return s, err
}

// Scan calls fn with each record of partition's log in [from, end) that a
// consumer at iso would be handed, with its offset, in order, fetching up
// to size bytes at a time from the leader without waiting for data; fn
// returns false to stop. complete reports that the log was read up to end:
// false when fn stopped it, or when the log is visible only up to an
// earlier offset (ReadCommitted: the last stable offset, while a
// transaction is open).
//
// What is handed follows sarama's consumer (parseResponse): a control batch
// (commit or abort marker) never is; under ReadCommitted a transactional
// batch is skipped when its producer has an aborted transaction starting at
// or before the batch's last offset and no abort marker since.
func Scan(client sarama.Client, topic string, partition int32, from, end int64, iso sarama.IsolationLevel, size int32, fn func(offset int64, r *sarama.Record) bool) (complete bool, err error) {
	for from < end {
		broker, err := client.Leader(topic, partition)
		if err != nil {
			return false, err
		}
		req := &sarama.FetchRequest{Version: 11, MaxWaitTime: 0, MinBytes: 1, MaxBytes: size, Isolation: iso}
		req.AddBlock(topic, partition, from, size, -1)
		resp, err := broker.Fetch(req)
		if err != nil {
			return false, err
		}
		b := resp.GetBlock(topic, partition)
		switch {
		case b == nil:
			return false, fmt.Errorf("%s/%d: no fetch answer", topic, partition)
		case !errors.Is(b.Err, sarama.ErrNoError):
			return false, fmt.Errorf("%s/%d: fetch at %d: %w", topic, partition, from, b.Err)
		}
		next, more := scan(b, from, end, iso, fn)
		if !more {
			return false, nil
		}
		if next <= from { // nothing more is visible: the end of the log, or the last stable offset
			return false, nil
		}
		from = next
	}
	return true, nil
}

// scan hands fn the deliverable records of one fetch answer within [from,
// end); it returns the offset after the last whole batch it read, and false
// when fn stopped it.
func scan(b *sarama.FetchResponseBlock, from, end int64, iso sarama.IsolationLevel, fn func(int64, *sarama.Record) bool) (next int64, more bool) {
	aborted := b.AbortedTransactions
	sort.Slice(aborted, func(i, j int) bool { return aborted[i].FirstOffset < aborted[j].FirstOffset })
	open := map[int64]bool{} // producers inside an aborted transaction
	next = from
	for _, rs := range b.RecordsSet {
		rb := rs.RecordBatch
		if rb == nil || rb.PartialTrailingRecord {
			break // a legacy message set (no transactions; not written by Kafka 3+) or a partial batch
		}
		for len(aborted) > 0 && aborted[0].FirstOffset <= rb.LastOffset() {
			open[aborted[0].ProducerID] = true
			aborted = aborted[1:]
		}
		switch {
		case rb.Control:
			if len(rb.Records) > 0 && isAbortMarker(rb.Records[0]) {
				delete(open, rb.ProducerID)
			}
		case iso == sarama.ReadCommitted && rb.IsTransactional && open[rb.ProducerID]:
		default:
			for _, r := range rb.Records {
				if off := rb.FirstOffset + r.OffsetDelta; off >= from && off < end && !fn(off, r) {
					return next, false
				}
			}
		}
		next = max(next, rb.LastOffset()+1)
		if next >= end {
			break
		}
	}
	return next, true
}

// isAbortMarker reports whether a control record is an abort marker: its
// key is a version (int16) and a type (int16, 0 abort, 1 commit).
func isAbortMarker(r *sarama.Record) bool {
	return len(r.Key) >= 4 && r.Key[2] == 0 && r.Key[3] == 0
}
