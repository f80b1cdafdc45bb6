package record

import (
	"bytes"
	"testing"

	"github.com/tidwall/gjson"
)

func TestPathGet(t *testing.T) {
	doc := []byte(`{
		"id": 7, "user": {"id": "u-1", "name": {"first": "Ann"}}, "tags": ["a", "b"],
		"a*b": 1, "a?b": 2, "a|b": 3, "#": 4, "@this": 5, "!true": 6, "a=b": 7,
		"a<b": 8, "a>b": 9, "100%": 10, "a\\b": 11, "[x]": 12, "{y}": 13, "a,b": 14,
		"a b": 15, "ü": 16, "": 17, "x:y": 18, "user.id": 19
	}`)
	tests := []struct {
		column string
		want   string // Raw of the result; "" for a missing field
	}{
		{"id", "7"},
		{"user", `{"id": "u-1", "name": {"first": "Ann"}}`},
		{"user.id", `"u-1"`}, // dots nest, so the literal top-level "user.id" is not reachable
		{"user.name.first", `"Ann"`},
		{"tags.1", `"b"`},
		{"tags.#", ""}, // '#' is literal, not gjson's array length
		{"missing", ""},
		{"user.missing", ""},
		{"a*b", "1"},
		{"a?b", "2"},
		{"a|b", "3"},
		{"#", "4"},
		{"@this", "5"},
		{"!true", "6"},
		{"a=b", "7"},
		{"a<b", "8"},
		{"a>b", "9"},
		{"100%", "10"},
		{`a\b`, "11"},
		{"[x]", "12"},
		{"{y}", "13"},
		{"a,b", "14"},
		{"a b", "15"},
		{"ü", "16"},
		{"x:y", "18"},
		{"a*", ""}, // no wildcard matching
		{"a?", ""},
		{"@reverse", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got := CompilePath(tt.column).Get(doc)
		if got.Raw != tt.want {
			t.Errorf("CompilePath(%q).Get = %q, want %q", tt.column, got.Raw, tt.want)
		}
		if got.Exists() != (tt.want != "") {
			t.Errorf("CompilePath(%q).Get.Exists() = %v", tt.column, got.Exists())
		}
	}
}

func TestPathGetDoesNotAlias(t *testing.T) {
	doc := []byte(`{"name":"alice"}`)
	r := CompilePath("name").Get(doc)
	copy(doc, `{"name":"XXXXX"}`)
	if r.Str != "alice" || r.Raw != `"alice"` {
		t.Errorf("result changed with the buffer: %q %q", r.Str, r.Raw)
	}
}

func TestPathZero(t *testing.T) {
	if r := (Path{}).Get([]byte(`{"":1}`)); r.Exists() {
		t.Errorf("zero Path found %q", r.Raw)
	}
}

func TestKeyText(t *testing.T) {
	doc := []byte(`{"s":"a\"b\u00e9","e":"","i":123,"f":1.5,"x":-1e3,"t":true,"f2":false,"n":null,"o":{"a":1},"a":[1]}`)
	tests := []struct {
		column string
		want   string
		ok     bool
	}{
		{"s", `a"bé`, true},
		{"e", "", true},
		{"i", "123", true},
		{"f", "1.5", true},
		{"x", "-1e3", true},
		{"t", "true", true},
		{"f2", "false", true},
		{"n", "", false},
		{"o", "", false},
		{"a", "", false},
		{"missing", "", false},
	}
	for _, tt := range tests {
		key, ok := KeyText(CompilePath(tt.column).Get(doc))
		if string(key) != tt.want || ok != tt.ok {
			t.Errorf("KeyText(%s) = %q, %v; want %q, %v", tt.column, key, ok, tt.want, tt.ok)
		}
	}
	if key, ok := KeyText(gjson.Result{Type: gjson.Number, Num: 2.5}); string(key) != "2.5" || !ok {
		t.Errorf("KeyText(number without Raw) = %q, %v", key, ok)
	}
}

// A key column that is missing falls back to its _base64 sibling, the way
// Enrich writes a key that is not valid UTF-8, so such a key round-trips.
func TestKeyPath(t *testing.T) {
	bin := []byte{0xff, 0x00, 0xfe}
	tests := []struct {
		column, rec string
		want        []byte
		ok          bool
	}{
		{KeyField, string(Enrich(nil, []byte(`{"a":1}`), Meta{Key: []byte("k-1")})), []byte("k-1"), true},
		{KeyField, string(Enrich(nil, []byte(`{"a":1}`), Meta{Key: bin})), bin, true},
		{KeyField, string(Enrich(nil, nil, Meta{Key: bin, ValueNull: true})), bin, true},
		{KeyField, string(Enrich(nil, []byte(`{"a":1}`), Meta{KeyNull: true})), nil, false},
		{"id", `{"id":7,"id_base64":"/w=="}`, []byte("7"), true},
		{"id", `{"id":null,"id_base64":"/w=="}`, nil, false},
		{"id", `{"id_base64":"not base64!"}`, nil, false},
		{"id", `{"id_base64":12}`, nil, false},
		{"u.id", `{"u":{"id_base64":"AAE="}}`, []byte{0, 1}, true},
		{"", `{"_base64":"AAE="}`, nil, false},
	}
	for _, tt := range tests {
		key, ok := CompileKeyPath(tt.column).Key([]byte(tt.rec))
		if !bytes.Equal(key, tt.want) || ok != tt.ok {
			t.Errorf("CompileKeyPath(%q).Key(%s) = %q, %v; want %q, %v", tt.column, tt.rec, key, ok, tt.want, tt.ok)
		}
	}
}

// KeyIn gives the key Key gives, for every kind of key column, and shares
// the record's memory only where it could.
func TestKeyInAgreesWithKey(t *testing.T) {
	recs := []string{
		`{"user_id":"u-17","amount":1}`,
		`{"amount":1,"user_id":"u-\u0031\"7"}`,
		`{"user_id":""}`,
		`{"user_id":123.50}`,
		`{"user_id":-1e3}`,
		`{"user_id":true}`,
		`{"user_id":false}`,
		`{"user_id":null}`,
		`{"user_id":{"a":1}}`,
		`{"user_id":[1]}`,
		`{"other":1}`,
		`{"user_id_base64":"AAEC/w=="}`,
		`{"user_id_base64":"not base64!"}`,
		`{"user":{"id":"nested"}}`,
		`{"user_id" : "spaced" }`,
		`not json`,
		``,
	}
	for _, path := range []string{"user_id", "user.id"} {
		kp := CompileKeyPath(path)
		for _, rec := range recs {
			want, wantOK := kp.Key([]byte(rec))
			got, gotOK := kp.KeyIn([]byte(rec))
			if gotOK != wantOK || string(got) != string(want) {
				t.Errorf("%s in %s: KeyIn = %q, %v; Key = %q, %v", path, rec, got, gotOK, want, wantOK)
			}
		}
	}
	v := []byte(`{"user_id":"u-17"}`)
	k, _ := CompileKeyPath("user_id").KeyIn(v)
	if &k[0] != &v[len(`{"user_id":"`)] || cap(k) != len(k) {
		t.Errorf("KeyIn copied a plain string key, or left room to append over the record")
	}
}
