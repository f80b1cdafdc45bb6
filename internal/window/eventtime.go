package window

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/tidwall/gjson"

	"github.com/conveyor-etl/conveyor/internal/record"
)

// TimeField reads a record's event time. Build it once with NewTimeField.
type TimeField struct {
	name string
	path record.Path
}

// NewTimeField compiles the time_field key: a field path (see
// record.CompilePath); "" means record.TimestampField (_kafka_timestamp,
// the Kafka message's timestamp, which the Kafka source adds).
func NewTimeField(name string) TimeField {
	if name == "" {
		name = record.TimestampField
	}
	return TimeField{name: name, path: record.CompilePath(name)}
}

// Name is the field's name, as configured (or _kafka_timestamp).
func (f TimeField) Name() string { return f.name }

// TimeError is the error of a record whose event time cannot be read:
// the field is missing, or its value is neither RFC 3339 nor epoch
// milliseconds. It is the record's own failure (dead letter), not the
// stage's.
type TimeError struct {
	Field string
	Value string // the value as written (clipped); "" when Missing
	// Missing is true when the record has no such field (or it is null).
	Missing bool
}

func (e *TimeError) Error() string {
	if e.Missing {
		return fmt.Sprintf("time_field %q: the record has no such field", e.Field)
	}
	return fmt.Sprintf("time_field %q: %s is neither an RFC 3339 time nor epoch milliseconds", e.Field, e.Value)
}

// Of returns the event time of rec in milliseconds since the Unix epoch.
// A JSON number is epoch milliseconds (a fraction is dropped, rounding
// down); a string is an RFC 3339 time ("2026-12-07T18:47:00.250Z", any
// offset, sub-millisecond digits dropped) or a string of epoch
// milliseconds ("1733597220250"). Anything else is a *TimeError.
func (f TimeField) Of(rec []byte) (int64, error) { return f.At(f.path.Peek(rec)) }

// At is Of for the field's value read already (as Path.Peek gives it).
func (f TimeField) At(r gjson.Result) (int64, error) {
	switch r.Type {
	case gjson.Number:
		if ms, ok := epochMillis(r.Raw); ok {
			return ms, nil
		}
	case gjson.String:
		if ms, ok := epochMillis(r.Str); ok {
			return ms, nil
		}
		if t, err := time.Parse(time.RFC3339Nano, r.Str); err == nil {
			return t.UnixMilli(), nil
		}
	case gjson.Null:
		return 0, &TimeError{Field: f.name, Missing: true}
	}
	return 0, &TimeError{Field: f.name, Value: record.Clip([]byte(r.Raw))}
}

// epochMillis parses a number of milliseconds: an integer, or a decimal
// or exponent form that fits an int64 (rounded down).
func epochMillis(s string) (int64, bool) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	if !decimalText(s) {
		return 0, false // not "Inf", "NaN", "0x1p4" and the like
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(x) || x < math.MinInt64 || x >= math.MaxInt64 {
		return 0, false
	}
	return int64(math.Floor(x)), true
}

// decimalText reports whether s is made of the characters of a decimal
// number in JSON's syntax (digits, sign, point, exponent) and starts with
// a digit or '-'.
func decimalText(s string) bool {
	if s == "" || !(s[0] == '-' || '0' <= s[0] && s[0] <= '9') {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
		default:
			return false
		}
	}
	return true
}
