package kafka

import (
	"github.com/IBM/sarama"
	wkafka "github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/conveyor-etl/conveyor/internal/record"
)

// headerJSON renders a consumed message's headers as the _kafka_headers
// object (record.AppendHeaders) into reused buffers; it is not safe for
// concurrent use.
type headerJSON struct {
	hs  []record.Header
	buf []byte
}

// render returns hs as JSON, or nil when there are none. The result is
// valid until the next call.
func (h *headerJSON) render(hs []*sarama.RecordHeader) []byte {
	if len(hs) == 0 {
		return nil
	}
	h.hs = h.hs[:0]
	for _, rh := range hs {
		h.hs = append(h.hs, record.Header{Key: rh.Key, Value: rh.Value})
	}
	h.buf = record.AppendHeaders(h.buf[:0], h.hs)
	return h.buf
}

// headersMetadata is the metadata entry in which headerUnmarshaler passes
// a message's headers, as JSON, to the per-message source.
const headersMetadata = "_conveyor_kafka_headers"

// headerUnmarshaler is watermill-kafka's DefaultMarshaler for the
// per-message source, which also keeps every header as it came (the stock
// one keeps the last of a repeated name, as text) for _kafka_headers.
type headerUnmarshaler struct{ wkafka.DefaultMarshaler }

func (u headerUnmarshaler) Unmarshal(m *sarama.ConsumerMessage) (*message.Message, error) {
	msg, err := u.DefaultMarshaler.Unmarshal(m)
	if err == nil && len(m.Headers) > 0 {
		var h headerJSON
		msg.Metadata.Set(headersMetadata, string(h.render(m.Headers)))
	}
	return msg, err
}
