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
	for from < end {
		broker, err := client.Leader(topic, partition)
		if err != nil {
			return s, err
		}
		size := int32(4 << 20)
		if stopAtFirst {
			size = 64 << 10 // the broker still returns a first batch larger than this
		}
		req := &sarama.FetchRequest{Version: 11, MaxWaitTime: 0, MinBytes: 1, MaxBytes: size, Isolation: iso}
		req.AddBlock(topic, partition, from, size, -1)
		resp, err := broker.Fetch(req)
		if err != nil {
			return s, err
		}
		b := resp.GetBlock(topic, partition)
		switch {
		case b == nil:
			return s, fmt.Errorf("%s/%d: no fetch answer", topic, partition)
		case !errors.Is(b.Err, sarama.ErrNoError):
			return s, fmt.Errorf("%s/%d: fetch at %d: %w", topic, partition, from, b.Err)
		}
		next, n, err := scan(b, from, end, iso, stopAtFirst)
		s.Records += n
		if err != nil || (stopAtFirst && n > 0) {
			return s, err
		}
		if next <= from { // nothing more is visible: the end of the log, or the last stable offset
			return s, nil
		}
		from = next
	}
	s.Complete = true
	return s, nil
}

// scan counts the deliverable records of one fetch answer within [from,
// end) and returns the offset after the last whole batch it read.
func scan(b *sarama.FetchResponseBlock, from, end int64, iso sarama.IsolationLevel, stopAtFirst bool) (next, n int64, err error) {
	aborted := b.AbortedTransactions
	sort.Slice(aborted, func(i, j int) bool { return aborted[i].FirstOffset < aborted[j].FirstOffset })
	open := map[int64]bool{} // producers inside an aborted transaction
	next = from
	for _, rs := range b.RecordsSet {
		rb := rs.RecordBatch
		if rb == nil { // a legacy message set: no transactions
			if rs.MsgSet == nil {
				continue
			}
			for _, m := range rs.MsgSet.Messages {
				if m.Offset >= next && m.Offset < end {
					n++
				}
				next = max(next, m.Offset+1)
			}
			continue
		}
		if rb.PartialTrailingRecord {
			break
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
				if off := rb.FirstOffset + r.OffsetDelta; off >= from && off < end {
					n++
				}
			}
		}
		next = max(next, rb.LastOffset()+1)
		if (stopAtFirst && n > 0) || next >= end {
			break
		}
	}
	return next, n, nil
}

// isAbortMarker reports whether a control record is an abort marker: its
// key is a version (int16) and a type (int16, 0 abort, 1 commit).
func isAbortMarker(r *sarama.Record) bool {
	return len(r.Key) >= 4 && r.Key[2] == 0 && r.Key[3] == 0
}
