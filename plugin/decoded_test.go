package plugin

import (
	"slices"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
)

// recordsEqual compares records by value and offset.
func recordsEqual(a, b []Record) bool {
	return slices.EqualFunc(a, b, func(x, y Record) bool { return string(x.Value) == string(y.Value) && x.Offset == y.Offset })
}

// The records Rebatch caches are what decoding its payload gives, and a
// change to the payload or to the batch metadata is never answered from the
// cache.
func TestRebatchCacheAgreesWithPayload(t *testing.T) {
	src := Batch{Origin: "orders", Partition: 3, Records: []Record{
		{Value: []byte(`{"a":1}`), Offset: 10}, {Value: []byte(`{"a":2}`), Offset: 11},
		{Value: []byte(`{"a":3}`), Offset: 12}, {Value: []byte(`{"a":4}`), Offset: 15}}}
	in := src.Message("m1")
	in.Metadata.Set("correlation", "c1")
	b, err := DecodeBatch(in)
	if err != nil {
		t.Fatal(err)
	}
	kept := []Record{b.Records[0], b.Records[2], b.Records[3]}
	out := Rebatch(in, b, kept)
	if _, ok := cached(out); !ok {
		t.Fatal("Rebatch cached no records")
	}
	fromCache, err := DecodeBatch(out)
	if err != nil {
		t.Fatal(err)
	}
	// What a stage that lost the context would decode.
	bare := message.NewMessage(out.UUID, out.Payload)
	bare.Metadata = out.Metadata
	fromPayload, err := DecodeBatch(bare)
	if err != nil {
		t.Fatal(err)
	}
	if !recordsEqual(fromCache.Records, kept) || !recordsEqual(fromPayload.Records, kept) ||
		fromCache.Origin != "orders" || fromCache.Partition != 3 || fromPayload.Partition != 3 {
		t.Fatalf("cache %+v, payload %+v, want %+v", fromCache, fromPayload, kept)
	}
	// The cached records are copied: changing what DecodeBatch returned
	// leaves the next decode alone.
	fromCache.Records[0] = Record{Value: []byte(`{"x":0}`), Offset: 99}
	again, _ := DecodeBatch(out)
	if !recordsEqual(again.Records, kept) {
		t.Fatalf("a caller's change reached the cache: %+v", again.Records)
	}

	// A middleware that replaced the payload (same length, other bytes), or
	// the offsets, is decoded from what the message now holds.
	replaced := append([]byte(nil), out.Payload...)
	replaced[len(`{"a":`)] = '7'
	out2 := out.Copy()
	out2.Payload = replaced
	out2.SetContext(out.Context())
	got, err := DecodeBatch(out2)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Records[0].Value) != `{"a":7}` {
		t.Fatalf("replaced payload answered from the cache: %s", got.Records[0].Value)
	}
	out.Metadata.Set(MetaOffsets, "20,21,22")
	got, err = DecodeBatch(out)
	if err != nil {
		t.Fatal(err)
	}
	if got.Records[0].Offset != 20 || got.Records[2].Offset != 22 {
		t.Fatalf("changed offsets answered from the cache: %+v", got.Records)
	}
}
