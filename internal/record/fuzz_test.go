package record

import "testing"

func FuzzEnrich(f *testing.F) {
	for _, s := range []string{
		`{}`, ` { "a" : [ 1 , { } ] } `, `{"a":-0,"b":1e10,"c":1.50}`,
		`{"e":"\u00e9\/\"\\"}`, "{\"s\":\"\xff\u2028\"}", `{"_kafka_key":1}`,
		`[1]`, `"x"`, `null`, ``, `{"a":1`, `{"a":01}`, "\xff<&>", `{"a":"\ud800"}`,
		`{"\u005fkafka_key":1,"b":{"_kafka_offset":2},"_kafka_timestamp":3}`,
		`{"_payload__kafka_key":1,"_kafka_key":2,"_kafka_payload":3,"_payload_\u005fpayload__kafka_key_base64":4}`,
	} {
		f.Add([]byte(s), []byte("key"), false, false, int32(1), int64(2), int64(3))
	}
	f.Add([]byte(nil), []byte("\xff\x00"), false, true, int32(1), int64(2), int64(3))
	f.Fuzz(func(t *testing.T, value, key []byte, keyNull, valueNull bool, partition int32, offset, ts int64) {
		checkEnrich(t, value, Meta{Key: key, KeyNull: keyNull, ValueNull: valueNull, Partition: partition, Offset: offset, Timestamp: ts})
	})
}

func FuzzAppendCompact(f *testing.F) {
	for _, s := range []string{
		` { "a" : [ 1 , { } ] } `, `[1, 2 ,3]`, ` "x" `, `-0.5e3`, "[\"\xff\"]", `{"a":01}`, `[1,]`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		checkCompact(t, src)
	})
}
