package kafka

import (
	"strings"
	"testing"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill/message"
)

// With tombstones = true only a record whose top-level _kafka_payload is
// null goes out as a tombstone; without it every record is sent as JSON.
func TestSinkTombstone(t *testing.T) {
	tests := []struct {
		rec  string
		want bool
	}{
		{`{"_kafka_payload":null,"_kafka_key":"k","_kafka_partition":0,"_kafka_offset":1,"_kafka_timestamp":2}`, true},
		{`{"_kafka_key":"k","_kafka_payload":null}`, true},
		{`{"_kafka_payload":"","_kafka_key":"k"}`, false},
		{`{"_kafka_payload":"null","_kafka_key":"k"}`, false},
		{`{"a":{"_kafka_payload":null},"_kafka_key":"k"}`, false},
		{`{"_payload__kafka_payload":null,"_kafka_key":"k"}`, false},
		{`{"a":1}`, false},
		{`null`, false},
	}
	on := &SinkConfig{Tombstones: true, KeyField: "_kafka_key"}
	off := &SinkConfig{KeyField: "_kafka_key"}
	enc, _ := newEncoder(on, nil)
	marshal := encodingMarshaler{enc}
	for _, tt := range tests {
		if got := on.tombstone([]byte(tt.rec)); got != tt.want {
			t.Errorf("tombstones = true: %s sent as tombstone: %v, want %v", tt.rec, got, tt.want)
		}
		if off.tombstone([]byte(tt.rec)) {
			t.Errorf("tombstones = false: %s sent as a tombstone", tt.rec)
		}
		// The per-message sink: a null value, still keyed.
		pm, err := marshal.Marshal("t", message.NewMessage("id", []byte(tt.rec)))
		if err != nil {
			t.Fatal(err)
		}
		if keyed := strings.Contains(tt.rec, `"_kafka_key":"k"`); (pm.Value == nil) != tt.want || (pm.Key != nil) != keyed {
			t.Errorf("per-message: %s marshals to value %v key %v; want a tombstone: %v, keyed if it has _kafka_key", tt.rec, pm.Value, pm.Key, tt.want)
		}
		if pm.Value != nil && string(pm.Value.(sarama.ByteEncoder)) != tt.rec {
			t.Errorf("per-message: %s marshals to value %q", tt.rec, pm.Value)
		}
	}
}

func TestSinkTombstonesNeedKeyField(t *testing.T) {
	c := DefaultSinkConfig()
	c.Brokers, c.Topic, c.Tombstones = []string{"localhost:9092"}, "t", true
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "needs key_field") {
		t.Errorf("tombstones without key_field: error %v, want one saying it needs key_field", err)
	}
	c.KeyField = "_kafka_key"
	if err := c.Validate(); err != nil {
		t.Errorf("tombstones with key_field: %v", err)
	}
}
