package window

import (
	"errors"
	"testing"
)

func TestTimeField(t *testing.T) {
	tf := NewTimeField("ts")
	ok := map[string]int64{
		`{"ts":1796601660250}`:                   1796601660250,
		`{"ts":1796601660250.9}`:                 1796601660250,
		`{"ts":1.79660166025e12}`:                1796601660250,
		`{"ts":"1796601660250"}`:                 1796601660250,
		`{"ts":"2026-12-07T00:01:00.250Z"}`:      1796601660250,
		`{"ts":"2026-12-07T01:01:00.250+01:00"}`: 1796601660250,
		`{"ts":"2026-12-07T00:01:00.2509Z"}`:     1796601660250,
		`{"ts":-5}`:                              -5,
	}
	for rec, want := range ok {
		got, err := tf.Of([]byte(rec))
		if err != nil || got != want {
			t.Errorf("%s: %d %v, want %d", rec, got, err, want)
		}
	}
	bad := map[string]string{
		`{"x":1}`:             `time_field "ts": the record has no such field`,
		`{"ts":null}`:         `time_field "ts": the record has no such field`,
		`{"ts":"yesterday"}`:  `time_field "ts": "yesterday" is neither an RFC 3339 time nor epoch milliseconds`,
		`{"ts":"2026-12-07"}`: `time_field "ts": "2026-12-07" is neither an RFC 3339 time nor epoch milliseconds`,
		`{"ts":true}`:         `time_field "ts": true is neither an RFC 3339 time nor epoch milliseconds`,
		`{"ts":"0x1p4"}`:      `time_field "ts": "0x1p4" is neither an RFC 3339 time nor epoch milliseconds`,
		`{"ts":1e300}`:        `time_field "ts": 1e300 is neither an RFC 3339 time nor epoch milliseconds`,
		`{"ts":{"s":1}}`:      `time_field "ts": {"s":1} is neither an RFC 3339 time nor epoch milliseconds`,
	}
	for rec, want := range bad {
		_, err := tf.Of([]byte(rec))
		var te *TimeError
		if !errors.As(err, &te) || err.Error() != want {
			t.Errorf("%s: %v, want %s", rec, err, want)
		}
	}
	def := NewTimeField("")
	if def.Name() != "_kafka_timestamp" {
		t.Fatal(def.Name())
	}
	if got, err := def.Of([]byte(`{"a":1,"_kafka_timestamp":42}`)); err != nil || got != 42 {
		t.Errorf("default field: %d %v", got, err)
	}
}
