package kafka

import (
	"github.com/IBM/sarama"

	"github.com/conveyor-etl/conveyor/internal/schema"
)

// Encoder makes the messages a kafka sink sends, without a broker, for
// tools that check what a pipeline would write (`conveyor test`). It is
// the sink's own code: the same topic (topic_expr), key (key_field,
// key_expr), partition (partition_expr, else Java's murmur2 of the key),
// value (nil for a tombstone), headers and timestamp, and the same errors
// for a record the sink would fail (max_topics counts as in one run). It
// is safe for concurrent use.
type Encoder struct {
	cfg        *SinkConfig
	enc        *encoder
	partitions int32
	values     *schema.Local // value_format's schema_file; nil: JSON, or schema = "latest"
}

// NewEncoder returns the encoder of a sink with cfg (decoded and valid)
// writing to topics of partitions partitions, all taken to exist.
func NewEncoder(cfg *SinkConfig, partitions int32) (*Encoder, error) {
	enc, err := newEncoder(cfg, nil)
	if err != nil {
		return nil, err
	}
	if enc.route != nil {
		enc.route.partitions = func(string) (int, error) { return int(partitions), nil }
	}
	values, err := localValues(cfg)
	if err != nil {
		return nil, err
	}
	return &Encoder{cfg: cfg, enc: enc, partitions: partitions, values: values}, nil
}

// Encode returns the message the sink sends for rec. With value_format
// other than json and a schema_file, its Value is the record as a reader
// of the written value sees it (the schema's fields, in their JSON form),
// and a record that does not fit the schema is an error, as in the sink. Its Partition is
// partition_expr's, else Java's murmur2 partition of its key, else -1 for
// a record without a key (the partitioner key picks one as it is sent).
// err is why the sink would fail the record.
func (e *Encoder) Encode(rec []byte) (*sarama.ProducerMessage, error) {
	m := &sarama.ProducerMessage{Partition: -1}
	var arena []byte
	if _, err := e.enc.encode(m, rec, &arena, nil); err != nil { // boxed: the caller keeps the message
		return nil, err
	}
	if err := e.schemaValue(m, rec); err != nil {
		return nil, err
	}
	if err := (&Sink{cfg: e.cfg}).checkSize(m); err != nil {
		return nil, err
	}
	if m.Partition < 0 && m.Key != nil {
		p, err := sarama.NewMurmur2Partitioner(m.Topic).Partition(m, e.partitions)
		if err != nil {
			return nil, err
		}
		m.Partition = p
	}
	return m, nil
}
