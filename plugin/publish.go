package plugin

import (
	"github.com/ThreeDotsLabs/watermill/message"
)

// PublishBySend implements a [Sink]'s Publish with its [Sender]: it hands
// the records of msgs to s in order and waits until they are durable. The
// wait ends early when the first message's context does.
func PublishBySend(s Sender, msgs []*message.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	recs, err := RecordsOf(msgs)
	if err != nil {
		return err
	}
	ctx := msgs[0].Context()
	return s.Send(ctx, recs).Wait(ctx)
}

// RecordsOf decodes the records of msgs, in order (see [DecodeBatch]).
func RecordsOf(msgs []*message.Message) ([]Record, error) {
	if len(msgs) == 1 {
		b, err := DecodeBatch(msgs[0])
		return b.Records, err
	}
	var recs []Record
	for _, m := range msgs {
		b, err := DecodeBatch(m)
		if err != nil {
			return nil, err
		}
		recs = append(recs, b.Records...)
	}
	return recs, nil
}
