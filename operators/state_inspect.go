package operators

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"reflect"

	"github.com/conveyor-etl/conveyor/internal/state"
	"github.com/conveyor-etl/conveyor/internal/window"
)

var (
	_ state.Inspector = (*WindowAggregate)(nil)
	_ state.Inspector = (*Dedupe)(nil)
)

// groupMatcher tells whether a stored group (the JSON array grouping.key
// makes) is the one a user named: a JSON array of the group's values
// ('["DE","web"]'), one JSON value ('42'), or the text of a string ('DE').
func groupMatcher(key string) func(group []byte) bool {
	var wants []any
	var v any
	if dec(key, &v) {
		if a, ok := v.([]any); ok {
			wants = append(wants, a)
		} else {
			wants = append(wants, []any{v})
		}
	}
	wants = append(wants, []any{key})
	return func(group []byte) bool {
		var got any
		if !dec(string(group), &got) {
			return false
		}
		for _, w := range wants {
			if reflect.DeepEqual(w, got) {
				return true
			}
		}
		return false
	}
}

func dec(s string, v *any) bool {
	d := json.NewDecoder(bytes.NewReader([]byte(s)))
	d.UseNumber()
	return d.Decode(v) == nil && !d.More()
}

// Inspect implements state.Inspector: each window of the group, open or
// not emitted yet, as the record it would emit now.
func (w *WindowAggregate) Inspect(key string) func(stored, value []byte) ([]byte, bool) {
	match := groupMatcher(key)
	return func(stored, value []byte) ([]byte, bool) {
		if len(stored) < 17 || stored[0] != 'w' {
			return nil, false // a session's index: its windows are shown
		}
		group, win := splitStateKey(stored)
		if !match(group) {
			return nil, false
		}
		acc, err := w.set.DecodeState(value)
		if err != nil {
			b, _ := json.Marshal(map[string]string{"error": err.Error()})
			return b, true
		}
		return w.result(group, win, acc), true
	}
}

// Inspect implements state.Inspector: the identity and the event time of
// its first record (and when it is forgotten, with ttl_ms).
func (d *Dedupe) Inspect(key string) func(stored, value []byte) ([]byte, bool) {
	match := groupMatcher(key)
	return func(stored, value []byte) ([]byte, bool) {
		if !match(stored) || len(value) != 8 {
			return nil, false
		}
		first := int64(binary.BigEndian.Uint64(value))
		var id []any
		_ = json.Unmarshal(stored, &id)
		out := append([]byte(`{"key":`), mustJSON(id[0])...)
		out = append(out, `,"first_seen":"`...)
		out = append(window.AppendTime(out, first), '"')
		if d.ttl > 0 {
			out = append(out, `,"forgotten_at":"`...)
			out = append(window.AppendTime(out, first+d.ttl), '"')
		}
		return append(out, '}'), true
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
