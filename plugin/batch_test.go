package plugin

import (
	"errors"
	"strings"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
)

// A batch survives the trip through a message: records, offsets (with and
// without gaps), origin and partition, and the record count.
func TestBatchMessageRoundTrip(t *testing.T) {
	for name, offs := range map[string][]int64{"contiguous": {10, 11, 12}, "gaps": {10, 12, 17}, "unknown": {-1, -1, -1}} {
		t.Run(name, func(t *testing.T) {
			in := Batch{Origin: "events", Partition: 7}
			for i, o := range offs {
				in.Records = append(in.Records, Record{Value: []byte(`{"i":` + string(rune('0'+i)) + `}`), Offset: o})
			}
			msg := in.Message("id-1")
			if msg.Metadata.Get(MetaFormat) != FormatBatch || msg.Metadata.Get(MetaRecords) != "3" {
				t.Fatalf("metadata %v", msg.Metadata)
			}
			out, err := DecodeBatch(msg)
			if err != nil {
				t.Fatal(err)
			}
			if out.Origin != "events" || out.Partition != 7 || len(out.Records) != 3 {
				t.Fatalf("decoded %+v", out)
			}
			for i, r := range out.Records {
				if string(r.Value) != string(in.Records[i].Value) || r.Offset != offs[i] {
					t.Errorf("record %d: %s@%d, want %s@%d", i, r.Value, r.Offset, in.Records[i].Value, offs[i])
				}
			}
		})
	}
}

// JSON whitespace newlines become spaces, so every record is one line of
// the payload; a message that is not a batch is one record.
func TestBatchOneLinePerRecordAndPlainMessages(t *testing.T) {
	msg := Batch{Records: []Record{{Value: []byte("{\n  \"a\": 1\n}"), Offset: 0}, {Value: []byte(`{"b":2}`), Offset: 1}}}.Message("x")
	if got := string(msg.Payload); got != "{   \"a\": 1 }\n{\"b\":2}\n" {
		t.Errorf("payload %q", got)
	}
	plain := message.NewMessage("p", []byte(`{"c":3}`))
	b, err := DecodeBatch(plain)
	if err != nil || len(b.Records) != 1 || string(b.Records[0].Value) != `{"c":3}` || b.Records[0].Offset != -1 {
		t.Errorf("plain message decoded as %+v, %v", b, err)
	}
}

// A malformed batch message is an error wrapping ErrNotBatch, never a
// panic or a silently shorter batch.
func TestDecodeBatchMalformed(t *testing.T) {
	good := Batch{Records: []Record{{Value: []byte(`{}`), Offset: 5}, {Value: []byte(`{}`), Offset: 6}}}.Message("m")
	for name, mutate := range map[string]func(*message.Message){
		"no final newline":   func(m *message.Message) { m.Payload = m.Payload[:len(m.Payload)-1] },
		"fewer offsets":      func(m *message.Message) { m.Metadata.Set(MetaOffsets, "5-5") },
		"more offsets":       func(m *message.Message) { m.Metadata.Set(MetaOffsets, "5-9") },
		"bad partition":      func(m *message.Message) { m.Metadata.Set(MetaPartition, "x") },
		"backwards range":    func(m *message.Message) { m.Metadata.Set(MetaOffsets, "9-5") },
		"bad offset in list": func(m *message.Message) { m.Metadata.Set(MetaOffsets, "5,x") },
	} {
		m := good.Copy()
		mutate(m)
		if _, err := DecodeBatch(m); !errors.Is(err, ErrNotBatch) {
			t.Errorf("%s: error %v, want ErrNotBatch", name, err)
		}
	}
}

// Rebatch keeps the message itself when nothing changed, and otherwise
// keeps UUID and metadata (a correlation id, say) while recounting the
// records and their offsets.
func TestRebatch(t *testing.T) {
	msg := Batch{Origin: "t", Partition: 1, Records: []Record{{Value: []byte(`{"a":1}`), Offset: 3}, {Value: []byte(`{"a":2}`), Offset: 4}, {Value: []byte(`{"a":3}`), Offset: 5}}}.Message("u")
	msg.Metadata.Set("correlation_id", "c-1")
	b, _ := DecodeBatch(msg)
	if Rebatch(msg, b, b.Records) != msg {
		t.Error("unchanged records made a new message")
	}
	m := Rebatch(msg, b, []Record{b.Records[0], b.Records[2]})
	if m.UUID != "u" || m.Metadata.Get("correlation_id") != "c-1" || m.Metadata.Get(MetaOffsets) != "3,5" || m.Metadata.Get(MetaRecords) != "2" {
		t.Errorf("rebatched metadata %v", m.Metadata)
	}
	if got := strings.Count(string(m.Payload), "\n"); got != 2 {
		t.Errorf("%d records in the payload, want 2", got)
	}
}

// DecodeBatch never panics on what a foreign middleware or transport might
// hand it, and what it accepts has one record per line and one offset each.
func FuzzDecodeBatch(f *testing.F) {
	f.Add([]byte("{\"a\":1}\n{}\n"), "1-2", "0")
	f.Add([]byte("{}\n"), "5,9", "x")
	f.Add([]byte(""), "", "")
	f.Add([]byte("{}\n{}\n"), "3,", "1")
	f.Fuzz(func(t *testing.T, payload []byte, offsets, partition string) {
		m := message.NewMessage("f", payload)
		m.Metadata = message.Metadata{MetaFormat: FormatBatch, MetaOffsets: offsets, MetaPartition: partition}
		b, err := DecodeBatch(m)
		if err != nil {
			return
		}
		if got := strings.Count(string(payload), "\n"); got != len(b.Records) {
			t.Fatalf("%d records from %d lines", len(b.Records), got)
		}
	})
}
