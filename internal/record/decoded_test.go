package record

import "testing"

// TestEnrichObjectIsEnrich: closing a compact object in place gives what
// Enrich gives for it, for an empty object too.
func TestEnrichObjectIsEnrich(t *testing.T) {
	m := Meta{Key: []byte("k\"1"), Partition: 3, Offset: 42, Timestamp: 1700000000000, Headers: []byte(`{"h":"v"}`)}
	for _, obj := range []string{`{}`, `{"a":1}`, `{"s":"x\"y","n":null,"o":{"p":[1,2]}}`} {
		want := Enrich([]byte("prefix"), []byte(obj), m)
		got := EnrichObject(append([]byte("prefix"), obj...), len("prefix"), m)
		if string(got) != string(want) {
			t.Errorf("%s:\n got %s\nwant %s", obj, got, want)
		}
	}
}
