package kafka

import (
	"github.com/IBM/sarama"
)

// Encoder makes the messages a kafka sink sends, without a broker, for
// tools that check what a pipeline would write (`conveyor test`). It is
// the sink's own code: the same topic, key, value (nil for a tombstone),
// headers and timestamp, and the same errors for a record the sink would
// fail. It is safe for concurrent use.
type Encoder struct {
	cfg *SinkConfig
	enc *encoder
}

// NewEncoder returns the encoder of a sink with cfg (decoded and valid).
func NewEncoder(cfg *SinkConfig) *Encoder { return &Encoder{cfg: cfg, enc: newEncoder(cfg)} }

// Encode returns the message the sink sends for rec, with Partition set to
// Java's murmur2 partition of its key among partitions, or -1 for a record
// without a key (the partitioner key picks one as it is sent). err is why
// the sink would fail the record.
func (e *Encoder) Encode(rec []byte, partitions int32) (*sarama.ProducerMessage, error) {
	m := &sarama.ProducerMessage{Topic: e.cfg.Topic, Partition: -1}
	var arena []byte
	if _, err := e.enc.encode(m, rec, &arena); err != nil {
		return nil, err
	}
	if err := (&Sink{cfg: e.cfg}).checkSize(m); err != nil {
		return nil, err
	}
	if m.Key != nil {
		p, err := sarama.NewMurmur2Partitioner(m.Topic).Partition(m, partitions)
		if err != nil {
			return nil, err
		}
		m.Partition = p
	}
	return m, nil
}
