package record

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math/rand"
	"reflect"
	"strings"
	"testing"
	"testing/quick"
	"unicode/utf8"
)

var testMeta = Meta{Key: []byte("k-1"), Partition: 3, Offset: 42, Timestamp: 1764072000000}

const metaJSON = `"_kafka_key":"k-1","_kafka_partition":3,"_kafka_offset":42,"_kafka_timestamp":1764072000000}`

// checkEnrich checks Enrich(value) against the reference:
//   - the output is valid, compact JSON and valid UTF-8;
//   - decoded, it equals the reference (input decoded plus metadata): both
//     re-encode to the same bytes;
//   - it is byte-identical to the reference whenever the input's text is
//     already in encoding/json's canonical form (always, for wrapped
//     payloads), and the function reports whether that was the case;
//   - appending to a non-empty dst gives the same bytes after dst.
func checkEnrich(t testing.TB, value []byte, m Meta) (identical bool) {
	t.Helper()
	got := Enrich(nil, value, m)
	want := refEnrich(value, m)
	if !json.Valid(got) || !utf8.Valid(got) {
		t.Fatalf("Enrich(%q) = %q: not valid UTF-8 JSON", value, got)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, got); err != nil || !bytes.Equal(compact.Bytes(), got) {
		t.Fatalf("Enrich(%q) = %q: not compact", value, got)
	}
	canonGot, err := refCanonical(got)
	if err != nil {
		t.Fatalf("Enrich(%q) = %q: %v", value, got, err)
	}
	canonWant, err := refCanonical(want)
	if err != nil || !bytes.Equal(canonGot, canonWant) {
		t.Fatalf("Enrich(%q) = %q\ndecodes to %q\nwant       %q", value, got, canonGot, canonWant)
	}
	if mustBeIdentical(value) && !bytes.Equal(got, want) {
		t.Fatalf("Enrich(%q)\n got %q\nwant %q", value, got, want)
	}
	prefix := []byte("xyz")
	again := Enrich(prefix, value, m)
	if string(again[:3]) != "xyz" || !bytes.Equal(again[3:], got) {
		t.Fatalf("Enrich(%q, %q) = %q, want prefix followed by %q", prefix, value, again, got)
	}
	checkCompact(t, value)
	return bytes.Equal(got, want)
}

// checkCompact checks AppendCompact against json.Valid and json.Compact.
func checkCompact(t testing.TB, src []byte) {
	t.Helper()
	got, ok := AppendCompact([]byte("pre"), src)
	if valid := json.Valid(src); ok != valid {
		t.Fatalf("AppendCompact(%q) ok = %v, json.Valid = %v", src, ok, valid)
	}
	if !ok {
		if string(got) != "pre" {
			t.Fatalf("AppendCompact(%q) = %q, false; want dst unchanged", src, got)
		}
		return
	}
	if string(got[:3]) != "pre" {
		t.Fatalf("AppendCompact(%q) = %q: dst overwritten", src, got)
	}
	got = got[3:]
	var want bytes.Buffer
	if err := json.Compact(&want, src); err != nil {
		t.Fatal(err)
	}
	if utf8.Valid(src) {
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("AppendCompact(%q)\n got %q\nwant %q", src, got, want.Bytes())
		}
		return
	}
	// Invalid UTF-8 is replaced by \ufffd, which decodes as encoding/json
	// decodes the invalid bytes.
	canonGot, err1 := refCanonical(got)
	canonWant, err2 := refCanonical(src)
	if !utf8.Valid(got) || err1 != nil || err2 != nil || !bytes.Equal(canonGot, canonWant) {
		t.Fatalf("AppendCompact(%q) = %q, decodes to %q, want %q (%v, %v)", src, got, canonGot, canonWant, err1, err2)
	}
}

func TestAppendCompact(t *testing.T) {
	tests := []struct{ in, want string }{
		{` { "a" : [ 1 , true , null , "x y" , { } , [ ] ] } `, `{"a":[1,true,null,"x y",{},[]]}`},
		{" 1 ", "1"},
		{`"\u00e9\/"`, `"\u00e9\/"`},
		{"[\"\xff\"]", `["\ufffd"]`},
		{"\n[\n]\n", "[]"},
		{"-0.5e+3", "-0.5e+3"},
	}
	for _, tt := range tests {
		if got, ok := AppendCompact(nil, []byte(tt.in)); !ok || string(got) != tt.want {
			t.Errorf("AppendCompact(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
		checkCompact(t, []byte(tt.in))
	}
	for _, in := range []string{"", " ", "1 2", "[1,]", "{,}", `{"a"}`, "tru", "nul", "[", "]", "01", "\"\x01\"", "\ufeff1"} {
		checkCompact(t, []byte(in))
	}
}

// mustBeIdentical reports whether Enrich must reproduce the reference byte
// for byte: the value is wrapped, or the value is an object whose strings
// are written the way encoding/json writes them.
func mustBeIdentical(value []byte) bool {
	if !isObject(value) {
		return true
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, value); err != nil {
		return false
	}
	canon, err := refCanonical(value)
	return err == nil && bytes.Equal(canon, compact.Bytes())
}

func TestEnrichTable(t *testing.T) {
	tests := []struct {
		name, in, want string // want: the output without metadata; "" to skip
		identical      bool
	}{
		{"empty object", `{}`, `{`, true},
		{"empty object spaced", " \t\r\n{ \n } \n", `{`, true},
		{"flat", `{"a":1,"b":"x"}`, `{"a":1,"b":"x",`, true},
		{"spaces everywhere", " { \"a\" :\t1 ,\n\"b\" : [ 1 , 2 , { } , [ ] ] , \"c\" : { \"d\" : null } } ",
			`{"a":1,"b":[1,2,{},[]],"c":{"d":null},`, true},
		{"spaces in strings kept", `{"a b" : " x  y "}`, `{"a b":" x  y ",`, true},
		{"nested", `{"a":{"b":{"c":[[1,[2,[3]]],{"d":[]}]}}}`, `{"a":{"b":{"c":[[1,[2,[3]]],{"d":[]}]}},`, true},
		{"numbers kept", `{"a":-0,"b":1e10,"c":1.50,"d":-12.5E-3,"e":123456789012345678901234567890,"f":0.0}`,
			`{"a":-0,"b":1e10,"c":1.50,"d":-12.5E-3,"e":123456789012345678901234567890,"f":0.0,`, true},
		{"literals", `{"t":true,"f":false,"n":null}`, `{"t":true,"f":false,"n":null,`, true},
		{"escaped quote and backslash", `{"q":"a\"b\\c\n\t"}`, `{"q":"a\"b\\c\n\t",`, true},
		{"html kept", `{"h":"<a>&</a>"}`, `{"h":"<a>&</a>",`, true},
		{"unicode", `{"ü":"é 日本 🎉"}`, `{"ü":"é 日本 🎉",`, true},
		{"unicode escape kept", `{"e":"\u00e9\u65e5\ud83c\udf89"}`, `{"e":"\u00e9\u65e5\ud83c\udf89",`, false},
		{"slash escape kept", `{"u":"http:\/\/x"}`, `{"u":"http:\/\/x",`, false},
		{"lone surrogate kept", `{"s":"\ud800"}`, `{"s":"\ud800",`, false},
		{"line separator kept", "{\"s\":\"a\u2028b\"}", "{\"s\":\"a\u2028b\",", false},
		{"invalid utf8 replaced", "{\"s\":\"a\xffb\xc3\"}", `{"s":"a\ufffdb\ufffd",`, false},
		{"invalid utf8 in key", "{\"\xe9t\xe9\":1}", `{"\ufffdt\ufffd":1,`, false},
		{"surrogate utf8 replaced", "{\"s\":\"\xed\xa0\x80\"}", `{"s":"\ufffd\ufffd\ufffd",`, false},
		{"duplicate keys kept", `{"a":1,"a":2}`, `{"a":1,"a":2,`, true},

		{"array", `[1,2]`, `{"_kafka_payload":"[1,2]",`, true},
		{"number", `42`, `{"_kafka_payload":"42",`, true},
		{"string", `"hi"`, `{"_kafka_payload":"\"hi\"",`, true},
		{"null", `null`, `{"_kafka_payload":"null",`, true},
		{"true", `true`, `{"_kafka_payload":"true",`, true},
		{"empty", ``, `{"_kafka_payload":"",`, true},
		{"only spaces", "  \n", `{"_kafka_payload":"  \n",`, true},
		{"text", `hello <world> & "you"`, `{"_kafka_payload":"hello <world> & \"you\"",`, true},
		{"controls", "a\x00\x01\b\f\n\r\t\x1f\x7f", `{"_kafka_payload":"a\u0000\u0001\b\f\n\r\t\u001f` + "\x7f" + `",`, true},
		{"payload utf8", "\xff\u2028\u2029é", `{"_kafka_payload":"\ufffd\u2028\u2029é",`, true},

		{"truncated object", `{"a":1`, `{"_kafka_payload":"{\"a\":1",`, true},
		{"trailing comma", `{"a":1,}`, "", true},
		{"trailing data", `{"a":1} x`, "", true},
		{"two objects", `{}{}`, "", true},
		{"single quotes", `{'a':1}`, "", true},
		{"unquoted key", `{a:1}`, "", true},
		{"missing colon", `{"a" 1}`, "", true},
		{"missing value", `{"a":}`, "", true},
		{"bad literal", `{"a":tru}`, "", true},
		{"literal suffix", `{"a":truex}`, "", true},
		{"bad number leading zero", `{"a":01}`, "", true},
		{"bad number plus", `{"a":+1}`, "", true},
		{"bad number dot", `{"a":1.}`, "", true},
		{"bad number exp", `{"a":1e}`, "", true},
		{"bad number minus", `{"a":-}`, "", true},
		{"bad escape", `{"a":"\x"}`, "", true},
		{"short unicode escape", `{"a":"\u12"}`, "", true},
		{"raw newline in string", "{\"a\":\"x\ny\"}", "", true},
		{"mismatched close", `{"a":[1}`, "", true},
		{"extra close", `{"a":1}}`, "", true},
		{"unterminated string", `{"a":"x`, "", true},
		{"bom", "\ufeff{}", "", true},
		{"nul after object", "{}\x00", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			identical := checkEnrich(t, []byte(tt.in), testMeta)
			if identical != tt.identical {
				t.Errorf("byte-identical to the reference: %v, want %v", identical, tt.identical)
			}
			got := string(Enrich(nil, []byte(tt.in), testMeta))
			if tt.want != "" && got != tt.want+metaJSON {
				t.Errorf("Enrich(%q)\n got %s\nwant %s", tt.in, got, tt.want+metaJSON)
			}
		})
	}
}

func TestEnrichMeta(t *testing.T) {
	tests := []struct {
		m    Meta
		want string
	}{
		{Meta{KeyNull: true, Partition: 0, Offset: 0, Timestamp: 0},
			`{"a":1,"_kafka_key":null,"_kafka_partition":0,"_kafka_offset":0,"_kafka_timestamp":0}`},
		{Meta{Key: nil, Partition: -1, Offset: -1, Timestamp: -1},
			`{"a":1,"_kafka_key":"","_kafka_partition":-1,"_kafka_offset":-1,"_kafka_timestamp":-1}`},
		{Meta{Key: []byte("a\"b<é>\n"), Partition: 2147483647, Offset: 9223372036854775807, Timestamp: -9223372036854775808},
			`{"a":1,"_kafka_key":"a\"b<é>\n","_kafka_partition":2147483647,"_kafka_offset":9223372036854775807,"_kafka_timestamp":-9223372036854775808}`},
	}
	for _, tt := range tests {
		if got := Enrich(nil, []byte(`{"a":1}`), tt.m); string(got) != tt.want {
			t.Errorf("Enrich(%+v)\n got %s\nwant %s", tt.m, got, tt.want)
		}
		checkEnrich(t, []byte(`{"a":1}`), tt.m)
		checkEnrich(t, []byte(`x`), tt.m)
	}
}

// A payload's own members named like the metadata are kept, renamed with
// RenamePrefix (one more for a name that already has it), so every reader
// sees the source's metadata under the plain names, the payload's under the
// prefixed ones, and no name appears twice.
func TestEnrichPayloadMetaRenamed(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"_kafka_key":"old","_kafka_partition":"p","a":1,"_kafka_offset":{"x":[1]},"_kafka_timestamp":null,"_kafka_payload":7}`,
			`{"_payload__kafka_key":"old","_payload__kafka_partition":"p","a":1,"_payload__kafka_offset":{"x":[1]},"_payload__kafka_timestamp":null,"_payload__kafka_payload":7,`},
		{`{"_kafka_key":1}`, `{"_payload__kafka_key":1,`},
		{`{"_kafka_key":1,"_kafka_key":2}`, `{"_payload__kafka_key":1,"_payload__kafka_key":2,`},
		{`{ "a" : 1 , "_kafka_offset" : [ 1 , 2 ] }`, `{"a":1,"_payload__kafka_offset":[1,2],`},
		{`{"\u005fkafka_key":1,"_k\u0061fka_offset":2,"_kafka_timestam\u0070":3,"b":{"_kafka_key":4}}`,
			`{"_payload_\u005fkafka_key":1,"_payload__k\u0061fka_offset":2,"_payload__kafka_timestam\u0070":3,"b":{"_kafka_key":4},`},
		{`{"_kafka_keys":1,"_kafka_ke":2,"\u005Fkafka\/key":3,"_KAFKA_KEY":4,"_payload_x":5,"_payload_":6}`,
			`{"_kafka_keys":1,"_kafka_ke":2,"\u005Fkafka\/key":3,"_KAFKA_KEY":4,"_payload_x":5,"_payload_":6,`},
		{"{\"_kafka_key\":\"\xff\",\"a\":\"\xff\"}", `{"_payload__kafka_key":"\ufffd","a":"\ufffd",`},
		{`{"_kafka_key_base64":"AA=="}`, `{"_payload__kafka_key_base64":"AA==",`},
		// A record that went through a source before: each hop adds one
		// prefix, so the earlier metadata stays and no name repeats.
		{`{"_payload__kafka_key":"hop1","_kafka_key":"hop2","_payload__p\u0061yload__kafka_offset":0}`,
			`{"_payload__payload__kafka_key":"hop1","_payload__kafka_key":"hop2","_payload__payload__p\u0061yload__kafka_offset":0,`},
	}
	for _, tt := range tests {
		out := Enrich(nil, []byte(tt.in), testMeta)
		if string(out) != tt.want+metaJSON {
			t.Errorf("Enrich(%s)\n got %s\nwant %s", tt.in, out, tt.want+metaJSON)
		}
		var decoded map[string]any
		if err := json.Unmarshal(out, &decoded); err != nil {
			t.Fatal(err)
		}
		if decoded[KeyField] != "k-1" || decoded[OffsetField] != 42.0 {
			t.Errorf("%s decodes to %v", out, decoded)
		}
		if got := CompilePath(KeyField).Get(out).Str; got != "k-1" {
			t.Errorf("gjson reads %s = %q from %s", KeyField, got, out)
		}
		if got := CompilePath(OffsetField).Get(out).Int(); got != 42 {
			t.Errorf("gjson reads %s = %d from %s", OffsetField, got, out)
		}
		checkEnrich(t, []byte(tt.in), testMeta)
	}
}

// A tombstone (no value) gives "_kafka_payload":null, an empty value "".
func TestEnrichTombstone(t *testing.T) {
	tests := []struct {
		name  string
		value []byte
		null  bool
		want  string
	}{
		{"tombstone", nil, true, `{"_kafka_payload":null,`},
		{"tombstone with stray bytes", []byte(`{"a":1}`), true, `{"_kafka_payload":null,`},
		{"empty value", []byte{}, false, `{"_kafka_payload":"",`},
		{"nil value not marked null", nil, false, `{"_kafka_payload":"",`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := testMeta
			m.ValueNull = tt.null
			got := Enrich(nil, tt.value, m)
			if string(got) != tt.want+metaJSON {
				t.Errorf("Enrich(%q, ValueNull=%v)\n got %s\nwant %s", tt.value, tt.null, got, tt.want+metaJSON)
			}
			if IsTombstone(got) != tt.null {
				t.Errorf("IsTombstone(%s) = %v, want %v", got, !tt.null, tt.null)
			}
			checkEnrich(t, tt.value, m)
		})
	}
}

// A key that is not valid UTF-8 is written, losslessly, as standard base64
// under _kafka_key_base64, and _kafka_key is then absent.
func TestEnrichBinaryKey(t *testing.T) {
	tests := []struct {
		key  string
		want string
	}{
		{"k-1", `"_kafka_key":"k-1"`},
		{"", `"_kafka_key":""`},
		{"é\u2028\x00\"", `"_kafka_key":"é\u2028\u0000\""`}, // valid UTF-8: escaped text
		{"\xff", `"_kafka_key_base64":"/w=="`},
		{"\x00\x01\xfe\xff", `"_kafka_key_base64":"AAH+/w=="`},
		{"abc\xc3", `"_kafka_key_base64":"YWJjww=="`},  // a truncated rune
		{"\xed\xa0\x80", `"_kafka_key_base64":"7aCA"`}, // a UTF-8 encoded surrogate
	}
	for _, tt := range tests {
		m := testMeta
		m.Key = []byte(tt.key)
		want := `{"a":1,` + tt.want + `,"_kafka_partition":3,"_kafka_offset":42,"_kafka_timestamp":1764072000000}`
		got := Enrich(nil, []byte(`{"a":1}`), m)
		if string(got) != want {
			t.Errorf("key %q\n got %s\nwant %s", tt.key, got, want)
			continue
		}
		var d map[string]any
		if err := json.Unmarshal(got, &d); err != nil {
			t.Fatal(err)
		}
		if s, ok := d[KeyBase64Field].(string); ok {
			if b, err := base64.StdEncoding.DecodeString(s); err != nil || string(b) != tt.key {
				t.Errorf("key %q: %s decodes to %q, %v", tt.key, KeyBase64Field, b, err)
			}
		} else if d[KeyField] != tt.key {
			t.Errorf("key %q: %s = %q", tt.key, KeyField, d[KeyField])
		}
		checkEnrich(t, []byte(`{"a":1}`), m)
		checkEnrich(t, []byte(`not json`), m)
	}
}

func TestEnrichDeepNesting(t *testing.T) {
	deep := func(n int) []byte {
		return []byte(`{"a":` + strings.Repeat("[", n-1) + strings.Repeat("]", n-1) + `}`)
	}
	tests := []struct {
		name string
		in   []byte
		pass bool // passed through as an object
	}{
		{"at the limit", deep(maxDepth), true},
		{"over the limit", deep(maxDepth + 1), false},
		{"far over the limit", deep(1_000_000), false},
		{"unclosed", []byte(`{"a":` + strings.Repeat("[", 1_000_000)), false},
		{"unclosed objects", []byte(strings.Repeat(`{"a":`, 1_000_000)), false},
		{"top-level array", []byte(strings.Repeat("[", 100_000)), false},
		{"top-level array at the limit", []byte(strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := Enrich(nil, tt.in, testMeta)
			if pass := !bytes.HasPrefix(out, []byte(`{"_kafka_payload"`)); pass != tt.pass {
				t.Errorf("passed through: %v, want %v", pass, tt.pass)
			}
			if isObject(tt.in) != tt.pass {
				t.Errorf("encoding/json disagrees")
			}
			if !json.Valid(out) {
				t.Errorf("output is not valid JSON")
			}
			checkCompact(t, tt.in)
		})
	}
}

func TestEnrichNoAllocs(t *testing.T) {
	dst := make([]byte, 0, 1024)
	for _, in := range []string{benchEvent, "not json at all", `{"a":"\xff"}`, `{"_kafka_key":1,"a":2}`, `{"a":[1,2,{"b":` + strings.Repeat("[", 250) + strings.Repeat("]", 250) + `}]}`} {
		value := []byte(in)
		allocs := testing.AllocsPerRun(100, func() {
			dst = Enrich(dst[:0], value, testMeta)
		})
		if allocs != 0 {
			t.Errorf("Enrich(%.20q) allocates %v times per run, want 0", in, allocs)
		}
	}
}

// jsonDoc is a random object with random whitespace between its tokens,
// every token written the way encoding/json writes it, so Enrich must
// reproduce the reference byte for byte.
type jsonDoc string

var (
	numberTexts = []string{"0", "-0", "1", "-1", "1e10", "1E+10", "1.50", "-12.5e-3", "0.0", "123456789012345678901234567890", "4711", "153.25"}
	stringRunes = []rune("aZ09 _-.\"\\/<>&\n\t\r\b\f\x00\x1f\x7féü日🎉\u2028\u2029\ufffd{}[]:,")
)

func (jsonDoc) Generate(r *rand.Rand, size int) reflect.Value {
	var b strings.Builder
	ws := func() {
		for r.Intn(3) == 0 {
			b.WriteByte(" \t\r\n"[r.Intn(4)])
		}
	}
	str := func() {
		var s []rune
		for n := r.Intn(8); n > 0; n-- {
			s = append(s, stringRunes[r.Intn(len(stringRunes))])
		}
		var buf bytes.Buffer
		refEncode(&buf, string(s))
		b.Write(buf.Bytes())
	}
	var value func(depth int, obj bool)
	value = func(depth int, obj bool) {
		ws()
		kind := r.Intn(8)
		if obj {
			kind = 0
		} else if depth > 4 {
			kind = 2 + r.Intn(6)
		}
		switch kind {
		case 0, 1:
			open, close := "{", "}"
			if kind == 1 {
				open, close = "[", "]"
			}
			b.WriteString(open)
			for i, n := 0, r.Intn(size/10+2); i < n; i++ {
				if i > 0 {
					ws()
					b.WriteByte(',')
				}
				if kind == 0 {
					ws()
					if depth == 0 && r.Intn(6) == 0 {
						b.WriteString([]string{`"_kafka_key"`, `"_kafka_offset"`, `"_kafka_payload"`, `"_kafka_"`, `"_payload__kafka_key"`, `"_payload__kafka_"`}[r.Intn(6)])
					} else {
						str()
					}
					ws()
					b.WriteByte(':')
				}
				value(depth+1, false)
			}
			ws()
			b.WriteString(close)
		case 2, 3:
			str()
		case 4, 5:
			b.WriteString(numberTexts[r.Intn(len(numberTexts))])
		default:
			b.WriteString([]string{"true", "false", "null"}[r.Intn(3)])
		}
		ws()
	}
	value(0, true)
	return reflect.ValueOf(jsonDoc(b.String()))
}

func TestEnrichQuickObjects(t *testing.T) {
	f := func(doc jsonDoc, m Meta) bool {
		if !mustBeIdentical([]byte(doc)) {
			t.Fatalf("generator produced a non-canonical object %q", doc)
		}
		return checkEnrich(t, []byte(doc), m)
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 2000}); err != nil {
		t.Error(err)
	}
}

// Random bytes and corrupted objects must never be passed through broken.
func TestEnrichQuickBytes(t *testing.T) {
	f := func(in []byte, doc jsonDoc, pos uint16, b byte, m Meta) bool {
		checkEnrich(t, in, m)
		corrupt := []byte(doc)
		i := int(pos) % len(corrupt)
		corrupt[i] = b
		checkEnrich(t, corrupt, m)
		checkEnrich(t, corrupt[:i], m)
		return true
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 2000}); err != nil {
		t.Error(err)
	}
}

// A key decoded with its schema (Meta.KeyJSON) is written as the JSON
// value it is, not as text, with its schema id after it, whatever the raw
// key bytes.
func TestEnrichDecodedKey(t *testing.T) {
	for _, key := range []string{`{"user_id":"u1","n":2}`, `"k-1"`, `7`} {
		m := testMeta
		m.Key, m.KeyJSON, m.KeySchemaID = []byte("\x00\x00\x00\x00\x05raw"), []byte(key), 5
		want := `{"a":1,"_kafka_key":` + key + `,"_kafka_key_schema_id":5,"_kafka_partition":3,"_kafka_offset":42,"_kafka_timestamp":1764072000000}`
		if got := Enrich(nil, []byte(`{"a":1}`), m); string(got) != want {
			t.Errorf("key %s\n got %s\nwant %s", key, got, want)
		}
	}
}
