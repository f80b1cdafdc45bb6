package record

import (
	"bytes"
	"strings"
	"testing"
)

// EnrichChecked says malformed only for a value that is not valid JSON; a
// valid non-object, an empty value and a tombstone are wrapped but not
// malformed; every value is enriched exactly as Enrich does.
func TestEnrichCheckedMalformed(t *testing.T) {
	for _, c := range []struct {
		value     string
		null      bool
		malformed bool
	}{
		{value: `{"amount":150}`},
		{value: `{}`},
		{value: `[1,2]`},
		{value: `42`},
		{value: `"text"`},
		{value: `null`},
		{value: ``},
		{value: "  \n"},
		{null: true},
		{value: `not json at all`, malformed: true},
		{value: `{"amount": 700`, malformed: true},
		{value: `{"a":1} x`, malformed: true},
		{value: `[1,`, malformed: true},
		{value: strings.Repeat("[", 10001) + strings.Repeat("]", 10001), malformed: true},
	} {
		m := Meta{Key: []byte("k"), ValueNull: c.null, Offset: 7}
		var v []byte
		if !c.null {
			v = []byte(c.value)
		}
		got, malformed := EnrichChecked(nil, v, m)
		if malformed != c.malformed {
			t.Errorf("%.40q: malformed = %v, want %v", c.value, malformed, c.malformed)
		}
		if want := Enrich(nil, v, m); !bytes.Equal(got, want) {
			t.Errorf("%.40q: EnrichChecked wrote %.80s, Enrich %.80s", c.value, got, want)
		}
	}
}
