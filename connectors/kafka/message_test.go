package kafka

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/conveyor-etl/conveyor/internal/record"
	"github.com/conveyor-etl/conveyor/plugin"
)

func encodeOne(t *testing.T, cfg *SinkConfig, rec string) (*sarama.ProducerMessage, error) {
	t.Helper()
	m := &sarama.ProducerMessage{}
	var arena []byte
	enc, err := newEncoder(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = enc.encode(m, []byte(rec), &arena, nil)
	return m, err
}

func headerList(hs []sarama.RecordHeader) string {
	var out []string
	for _, h := range hs {
		v := fmt.Sprintf("%q", h.Value)
		if h.Value == nil {
			v = "null"
		}
		out = append(out, string(h.Key)+"="+v)
	}
	return strings.Join(out, " ")
}

// With the defaults, the record's _kafka_headers become the message's
// headers (repeated names, binary and null values as they came) and leave
// the value, and _kafka_timestamp becomes its timestamp; the rest of the
// value is the record as it is.
func TestEncodeDefaults(t *testing.T) {
	cfg := DefaultSinkConfig()
	cfg.KeyField = "_kafka_key"
	tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	rec := `{"a":1,"_kafka_key":"k","_kafka_partition":2,"_kafka_offset":7,"_kafka_timestamp":1764072000123,"_kafka_headers":{"traceparent":"` + tp + `","tag":["x","y"],"bin":{"base64":"/wA="},"nil":null}}`
	m, err := encodeOne(t, cfg, rec)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":1,"_kafka_key":"k","_kafka_partition":2,"_kafka_offset":7,"_kafka_timestamp":1764072000123}`; string(m.Value.(sarama.ByteEncoder)) != want {
		t.Errorf("value %s\nwant  %s", m.Value, want)
	}
	if want := `traceparent="` + tp + `" tag="x" tag="y" bin="\xff\x00" nil=null`; headerList(m.Headers) != want {
		t.Errorf("headers %s\nwant    %s", headerList(m.Headers), want)
	}
	if !m.Timestamp.Equal(time.UnixMilli(1764072000123)) || string(m.Key.(sarama.ByteEncoder)) != "k" {
		t.Errorf("timestamp %v key %v", m.Timestamp, m.Key)
	}
	// A record without headers or timestamp: the same bytes, produce time.
	plain := `{"a":1,"_kafka_key":"k"}`
	m, err = encodeOne(t, cfg, plain)
	if err != nil || string(m.Value.(sarama.ByteEncoder)) != plain || m.Headers != nil || !m.Timestamp.IsZero() {
		t.Errorf("plain record: value %s headers %v timestamp %v err %v", m.Value, m.Headers, m.Timestamp, err)
	}
}

// Static headers are added after the record's, and a name the record has
// keeps the record's value; headers_field = "" takes none from the record
// and leaves the field in the value.
func TestEncodeStaticHeaders(t *testing.T) {
	cfg := DefaultSinkConfig()
	cfg.Headers = map[string]string{"source": "conveyor", "env": "prod"}
	m, err := encodeOne(t, cfg, `{"a":1,"_kafka_headers":{"source":"web","tp":"t"}}`)
	if err != nil {
		t.Fatal(err)
	}
	if want := `source="web" tp="t" env="prod"`; headerList(m.Headers) != want {
		t.Errorf("headers %s, want %s", headerList(m.Headers), want)
	}
	cfg.HeadersField = ""
	rec := `{"a":1,"_kafka_headers":{"source":"web"}}`
	m, _ = encodeOne(t, cfg, rec)
	if want := `env="prod" source="conveyor"`; headerList(m.Headers) != want || string(m.Value.(sarama.ByteEncoder)) != rec {
		t.Errorf("headers_field = \"\": headers %s value %s", headerList(m.Headers), m.Value)
	}
}

// timestamp_field takes epoch milliseconds or RFC 3339; 0, null and a
// missing field give the produce time; anything else fails the record,
// permanently, naming the field and the value.
func TestEncodeTimestamp(t *testing.T) {
	cfg := DefaultSinkConfig()
	cfg.TimestampField = "ts"
	at := time.Date(2026, 12, 7, 15, 4, 5, 123e6, time.UTC)
	for v, want := range map[string]time.Time{
		`1796655845123`: at, `"1796655845123"`: at, `1.796655845123e12`: at,
		`"2026-12-07T15:04:05.123Z"`: at, `"2026-12-07T16:04:05.123+01:00"`: at,
		`0`: {}, `null`: {},
	} {
		m, err := encodeOne(t, cfg, `{"a":1,"ts":`+v+`}`)
		if err != nil || !m.Timestamp.Equal(want) {
			t.Errorf("ts = %s: %v, %v; want %v", v, m.Timestamp, err, want)
		}
	}
	for _, v := range []string{`-5`, `"yesterday"`, `1.5`, `true`, `{"ms":1}`} {
		_, err := encodeOne(t, cfg, `{"ts":`+v+`}`)
		if err == nil || !plugin.IsPermanent(err) || !strings.Contains(err.Error(), `timestamp_field "ts": `+v+` is not a timestamp`) {
			t.Errorf("ts = %s: error %v, want a permanent one naming the field and value", v, err)
		}
	}
}

// metadata = "drop" leaves every top-level _kafka_* field out of the
// value, but still takes the key, headers and timestamp from them; a
// payload that was not a JSON object goes out as it came.
func TestEncodeMetadataDrop(t *testing.T) {
	cfg := DefaultSinkConfig()
	cfg.Metadata, cfg.KeyField = "drop", "_kafka_key"
	m, err := encodeOne(t, cfg, `{"id":1,"_kafka_key":"k","_kafka_partition":0,"_kafka_offset":3,"_kafka_timestamp":5,"n":{"_kafka_key":1},"_kafka_headers":{"h":"v"}}`)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(m.Value.(sarama.ByteEncoder)); got != `{"id":1,"n":{"_kafka_key":1}}` {
		t.Errorf("value %s", got)
	}
	if string(m.Key.(sarama.ByteEncoder)) != "k" || headerList(m.Headers) != `h="v"` || m.Timestamp.UnixMilli() != 5 {
		t.Errorf("key %v headers %s timestamp %v", m.Key, headerList(m.Headers), m.Timestamp)
	}
	m, _ = encodeOne(t, cfg, `{"_kafka_payload":"plain \"text\"","_kafka_key":null,"_kafka_offset":1}`)
	if got := string(m.Value.(sarama.ByteEncoder)); got != `plain "text"` {
		t.Errorf("wrapped payload: value %q, want the text as it came", got)
	}
	m, _ = encodeOne(t, cfg, `{"_kafka_payload":"x","extra":1,"_kafka_offset":1}`)
	if got := string(m.Value.(sarama.ByteEncoder)); got != `{"_kafka_payload":"x","extra":1}` {
		t.Errorf("wrapped payload with a field set: value %s", got)
	}
}

// A headers field that cannot be headers fails the record, naming it.
func TestEncodeBadHeaders(t *testing.T) {
	_, err := encodeOne(t, DefaultSinkConfig(), `{"_kafka_headers":{"h":{"deep":1}}}`)
	if err == nil || !plugin.IsPermanent(err) || !strings.Contains(err.Error(), `headers_field "_kafka_headers": header "h": want a string`) {
		t.Errorf("error %v", err)
	}
}

// The values of a write's records stay intact while later records are
// encoded into the same arena.
func TestEncodeArenaKeepsEarlierValues(t *testing.T) {
	e, _ := newEncoder(DefaultSinkConfig(), nil)
	var arena []byte
	msgs := make([]sarama.ProducerMessage, 3000)
	for i := range msgs {
		rec := fmt.Sprintf(`{"i":%d,"pad":"%s","_kafka_headers":{"n":"%d"}}`, i, strings.Repeat("x", i%50), i)
		if _, err := e.encode(&msgs[i], []byte(rec), &arena, nil); err != nil {
			t.Fatal(err)
		}
	}
	for i := range msgs {
		if want := fmt.Sprintf(`{"i":%d,"pad":"%s"}`, i, strings.Repeat("x", i%50)); string(msgs[i].Value.(sarama.ByteEncoder)) != want {
			t.Fatalf("record %d: value %s, want %s", i, msgs[i].Value, want)
		}
	}
}

// BenchmarkEncode is the sink's per-record work on a record as Example 3
// sends it (about 150 bytes, no headers), keyed by user_id: "key only" is
// what the sink did before headers and timestamps, "defaults" reads
// _kafka_headers and _kafka_timestamp too, "headers" also has headers to
// send and leave out of the value.
func BenchmarkEncode(b *testing.B) {
	rec := []byte(`{"event_id":"e-000042","user_id":1234,"event":"purchase","amount":142,"_kafka_key":"user-1234","_kafka_partition":2,"_kafka_offset":4242,"_kafka_timestamp":1764072000123}`)
	withHeaders := []byte(`{"event_id":"e-000042","user_id":1234,"event":"purchase","amount":142,"_kafka_key":"user-1234","_kafka_partition":2,"_kafka_offset":4242,"_kafka_timestamp":1764072000123,"_kafka_headers":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}`)
	keyOnly := DefaultSinkConfig()
	keyOnly.KeyField, keyOnly.HeadersField, keyOnly.TimestampField = "user_id", "", ""
	defaults := DefaultSinkConfig()
	defaults.KeyField = "user_id"
	for _, bc := range []struct {
		name string
		cfg  *SinkConfig
		rec  []byte
	}{{"key only", keyOnly, rec}, {"defaults", defaults, rec}, {"headers", defaults, withHeaders}} {
		b.Run(bc.name, func(b *testing.B) {
			e, err := newEncoder(bc.cfg, nil)
			if err != nil {
				b.Fatal(err)
			}
			var arena []byte
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.rec)))
			for b.Loop() {
				var m sarama.ProducerMessage
				var slot encSlots
				if _, err := e.encode(&m, bc.rec, &arena, &slot); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The key read in the member scan (a top-level key_field) is the key
// record.KeyPath reads, for every kind of value and the _base64 sibling;
// a key field that is also the timestamp field gives both.
func TestEncodeKeyInScan(t *testing.T) {
	cfg := DefaultSinkConfig()
	cfg.KeyField = "k"
	for _, rec := range []string{
		`{"k":"plain","x":1}`, `{"k":"esc\"aped\u00e9"}`, `{"k":12.50}`, `{"k":true}`, `{"k":false}`, `{"k":null}`,
		`{"k":{"a":1}}`, `{"k":[1]}`, `{"x":1}`, `{"k_base64":"/wA="}`, `{"k_base64":"\/wA="}`, `{"k_base64":"%%"}`,
		`{"k":"first","k":"second"}`, `{"k":"t","k_base64":"AA=="}`, `{"n":{"k":"nested"}}`,
	} {
		m, err := encodeOne(t, cfg, rec)
		want, ok := record.CompileKeyPath("k").Key([]byte(rec))
		var got []byte
		if m.Key != nil {
			got = m.Key.(sarama.ByteEncoder)
		}
		if err != nil || (m.Key != nil) != ok || string(got) != string(want) {
			t.Errorf("%s: key %q (%v), %v; KeyPath reads %q (%v)", rec, got, m.Key != nil, err, want, ok)
		}
	}
	cfg.KeyField = "_kafka_timestamp"
	m, err := encodeOne(t, cfg, `{"_kafka_timestamp":1764072000123}`)
	if err != nil || string(m.Key.(sarama.ByteEncoder)) != "1764072000123" || m.Timestamp.UnixMilli() != 1764072000123 {
		t.Errorf("key %v timestamp %v err %v", m.Key, m.Timestamp, err)
	}
}

// The batching sink's encoder slots give sarama the same value and key
// bytes as the boxed encoders of the per-message sink.
func TestEncodeSlotsAgreeWithBoxed(t *testing.T) {
	plainKey := DefaultSinkConfig()
	plainKey.KeyField = "user_id"
	nested := DefaultSinkConfig()
	nested.KeyField = "user.id"
	dropped := DefaultSinkConfig()
	dropped.KeyField, dropped.Metadata = "user_id", "drop"
	bytesOf := func(e sarama.Encoder) string {
		if e == nil {
			return "<nil>"
		}
		b, _ := e.Encode()
		return string(b)
	}
	for _, cfg := range []*SinkConfig{plainKey, nested, dropped} {
		for _, rec := range []string{
			`{"user_id":"u-17","amount":1,"_kafka_key":"k"}`, `{"user_id":"u\"17"}`, `{"user_id":12.5}`, `{"user_id":true}`,
			`{"user":{"id":"n-1"}}`, `{"user_id_base64":"AAE="}`, `{"other":1}`, `{"_kafka_payload":null,"user_id":"t"}`,
		} {
			enc, err := newEncoder(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			var a1, a2 []byte
			boxed, slotted := &sarama.ProducerMessage{}, &sarama.ProducerMessage{}
			u1, err1 := enc.encode(boxed, []byte(rec), &a1, nil)
			u2, err2 := enc.encode(slotted, []byte(rec), &a2, new(encSlots))
			if u1 != u2 || (err1 == nil) != (err2 == nil) || bytesOf(boxed.Value) != bytesOf(slotted.Value) || bytesOf(boxed.Key) != bytesOf(slotted.Key) {
				t.Errorf("key_field %s, %s: boxed %q/%q, slots %q/%q", cfg.KeyField, rec, bytesOf(boxed.Value), bytesOf(boxed.Key), bytesOf(slotted.Value), bytesOf(slotted.Key))
			}
		}
	}
}

// A record read without the check (record.PeekMembers) is encoded as the
// checking scan encodes it: the same value, key, headers and timestamp,
// for records the peek takes and records it leaves to the scan (a headers
// field, escaped names), with nested, repeated and escaped members,
// whitespace and every kind of value.
func TestEncodeQuickAgreesWithScan(t *testing.T) {
	keyed := DefaultSinkConfig()
	keyed.KeyField = "user_id"
	static := DefaultSinkConfig()
	static.KeyField, static.Headers = "user_id", map[string]string{"src": "conveyor"}
	nested := DefaultSinkConfig()
	nested.KeyField = "u.id"
	renamed := DefaultSinkConfig()
	renamed.KeyField, renamed.TimestampField, renamed.HeadersField = "user_id", "ts", "h"
	noTime := DefaultSinkConfig()
	noTime.KeyField, noTime.TimestampField = "user_id", ""
	recs := []string{
		`{"event_id":"e-1","user_id":"u-17","amount":150,"_kafka_key":"e-1","_kafka_partition":2,"_kafka_offset":7,"_kafka_timestamp":1764072000123}`,
		`{"user_id":17,"_kafka_timestamp":0}`,
		`{"user_id":17,"_kafka_timestamp":-5}`,
		`{"user_id":17,"_kafka_timestamp":1.5e12}`,
		`{"user_id":17,"_kafka_timestamp":"2026-12-07T15:04:05Z"}`,
		`{"user_id":17,"_kafka_timestamp":1764072000123,"_kafka_headers":{"a":"b"}}`,
		`{"user_id":17,"_kafka_headers":{"a":"b"},"_kafka_timestamp":1764072000123}`,
		`{"user_id":17,"_kafka_headers":null,"_kafka_timestamp":5}`,
		`{"user_id":"u\"1","_kafka_timestamp":5}`,
		`{"user_id":"u-1","\u005fkafka_headers":{"a":"b"},"_kafka_timestamp":5}`,
		`{"user_id":"u-1","_kafka_timestamp":1,"x":{"_kafka_timestamp":2}}`,
		`{"user_id":"u-1","x":{"_kafka_timestamp":2},"_kafka_timestamp":3}`,
		`{"user_id":"u-1","_kafka_timestamp":4,"_kafka_timestamp":5}`,
		`{"user_id":"u-1","x":"_kafka_timestamp","_kafka_timestamp":5}`,
		`{"user_id":"u-1","x":{"y":1,"_kafka_timestamp":6}}`,
		`{"user_id":"u-1", "_kafka_timestamp" : 5 }`,
		`{"_kafka_timestamp":5}`,
		`{"user_id":true,"user_id":"second","_kafka_timestamp":5}`,
		`{"user_id":null,"_kafka_timestamp":5}`,
		`{"user_id_base64":"AAE=","_kafka_timestamp":5}`,
		`{"u":{"id":"n-1"},"user_id":"t","_kafka_timestamp":5}`,
		`{"ts":1764072000123,"h":{"a":"b"},"user_id":1}`,
		`{"user_id":1,"ts":1764072000123}`,
		`{"user_id":1,"_kafka_headers":{"src":"mine"}}`,
		`{"user_id":1}`,
		`{}`,
		` { "user_id" : "u 1" , "n" : [1, {"a": "}"}], "s": "a\"b\\", "_kafka_timestamp" : 7 } `,
		`{"user_id":"é\u00e9","f":-1.5e+3,"t":true,"z":null,"_kafka_timestamp":"1764072000123"}`,
		`{"\u0075ser_id":"escaped name","user_id":"plain"}`,
	}
	str := func(e sarama.Encoder) string {
		if e == nil {
			return "<nil>"
		}
		b, _ := e.Encode()
		return string(b)
	}
	took := 0
	for _, cfg := range []*SinkConfig{keyed, static, nested, renamed, noTime} {
		quick, err := newEncoder(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		scan := *quick
		scan.peek = false
		for _, rec := range recs {
			var f finds
			if record.PeekMembers([]byte(rec), func(name string, raw []byte) bool { return !quick.find(&f, name, raw) }) && f.hdrs == nil {
				took++
			}
			var a1, a2 []byte
			m1, m2 := &sarama.ProducerMessage{}, &sarama.ProducerMessage{}
			u1, err1 := quick.encode(m1, []byte(rec), &a1, new(encSlots))
			u2, err2 := scan.encode(m2, []byte(rec), &a2, new(encSlots))
			if u1 != u2 || fmt.Sprint(err1) != fmt.Sprint(err2) || str(m1.Value) != str(m2.Value) || str(m1.Key) != str(m2.Key) ||
				!m1.Timestamp.Equal(m2.Timestamp) || headerList(m1.Headers) != headerList(m2.Headers) {
				t.Errorf("key_field %s, %s:\nquick %q key %q ts %v headers %s err %v\nscan  %q key %q ts %v headers %s err %v", cfg.KeyField, rec,
					str(m1.Value), str(m1.Key), m1.Timestamp, headerList(m1.Headers), err1, str(m2.Value), str(m2.Key), m2.Timestamp, headerList(m2.Headers), err2)
			}
		}
	}
	if took < 15 {
		t.Errorf("the quick path took %d of the records: the test no longer covers it", took)
	}
}
