package plugin

import (
	"context"

	"github.com/ThreeDotsLabs/watermill/message"
)

// decoded is a batch message's records as they were laid out in its
// payload, kept in the message's context by [Rebatch], so that the stages
// after an operator (the next operator, the runtime's dispatcher) take them
// without splitting the payload and parsing its offsets again. It is only a
// cache: [DecodeBatchInto] uses it for the very payload (same bytes, same
// length) and batch metadata it was made from, and decodes the payload
// otherwise (a middleware that replaced either, or a message that lost its
// context, is decoded as before). The payload stays the batch's one carrier.
type decoded struct {
	payload                             []byte
	origin, partition, offsets, records string
	recs                                []Record
	part                                int32
}

type decodedKey struct{}

// withDecoded returns m with recs, which point into m's payload, cached in
// its context.
func withDecoded(m *message.Message, parent context.Context, recs []Record, partition int32) *message.Message {
	md := m.Metadata
	d := &decoded{payload: m.Payload, origin: md.Get(MetaOrigin), partition: md.Get(MetaPartition),
		offsets: md.Get(MetaOffsets), records: md.Get(MetaRecords), recs: recs, part: partition}
	m.SetContext(context.WithValue(parent, decodedKey{}, d))
	return m
}

// cached returns the records cached for msg, if they are msg's.
func cached(msg *message.Message) (*decoded, bool) {
	d, ok := msg.Context().Value(decodedKey{}).(*decoded)
	if !ok || len(d.payload) != len(msg.Payload) || len(d.payload) == 0 || &d.payload[0] != &msg.Payload[0] {
		return nil, false
	}
	md := msg.Metadata
	ok = md.Get(MetaFormat) == FormatBatch && md.Get(MetaOrigin) == d.origin && md.Get(MetaPartition) == d.partition &&
		md.Get(MetaOffsets) == d.offsets && md.Get(MetaRecords) == d.records
	return d, ok
}
