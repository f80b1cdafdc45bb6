package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/big"
	"testing"

	"github.com/hamba/avro/v2"
)

// orderSchema has a field of every kind the JSON form documents.
const orderSchema = `{"type":"record","name":"Order","namespace":"shop","fields":[
 {"name":"id","type":"long"},
 {"name":"qty","type":"int"},
 {"name":"ok","type":"boolean"},
 {"name":"rate","type":"float"},
 {"name":"amount","type":"double"},
 {"name":"country","type":"string"},
 {"name":"raw","type":"bytes"},
 {"name":"tag","type":{"type":"fixed","name":"Tag","size":2}},
 {"name":"status","type":{"type":"enum","name":"Status","symbols":["NEW","PAID"]}},
 {"name":"items","type":{"type":"array","items":"string"}},
 {"name":"attrs","type":{"type":"map","values":"long"}},
 {"name":"note","type":["null","string"]},
 {"name":"any","type":["null","long","string","Tag"]},
 {"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}},
 {"name":"fprice","type":{"type":"fixed","name":"F8","size":8,"logicalType":"decimal","precision":9,"scale":3}},
 {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"ship","type":{"type":"record","name":"Ship","fields":[{"name":"city","type":"string"},{"name":"zip","type":["null","string"],"default":null}]}},
 {"name":"extra","type":"string","default":"none"}
]}`

const orderJSON = `{"id":9007199254740993,"qty":-3,"ok":true,"rate":0.1,"amount":123.45,"country":"DE \"x\" é",` +
	`"raw":"AAH/","tag":"YWI=","status":"PAID","items":["a","b"],"attrs":{"k":1,"l":-2},"note":null,` +
	`"any":{"string":"s"},"price":"-12.30","fprice":"4.005","ts":1700000000123,` +
	`"ship":{"city":"Berlin","zip":"10115"},"extra":"none"}`

func mustAvro(t testing.TB, text string) avroCodec {
	t.Helper()
	n, err := compileAvro(text)
	if err != nil {
		t.Fatal(err)
	}
	return avroCodec{n}
}

// TestAvroRoundTripIsLossless encodes a record of every type, checks the
// bytes with hamba/avro (an independent reader and writer), decodes
// them back to the same JSON, and encodes that to the same bytes.
func TestAvroRoundTripIsLossless(t *testing.T) {
	c := mustAvro(t, orderSchema)
	bin, err := c.encode(nil, []byte(orderJSON))
	if err != nil {
		t.Fatal(err)
	}
	s := avro.MustParse(orderSchema)
	var got map[string]any
	if err := avro.Unmarshal(s, bin, &got); err != nil {
		t.Fatalf("hamba/avro cannot read what we wrote: %v", err)
	}
	if got["id"] != int64(9007199254740993) || got["country"] != `DE "x" é` || got["status"] != "PAID" {
		t.Fatalf("hamba/avro read %v", got)
	}
	if r, ok := got["price"].(*big.Rat); !ok || r.FloatString(2) != "-12.30" {
		t.Fatalf("price read by hamba/avro: %#v", got["price"])
	}
	if !bytes.Equal(got["raw"].([]byte), []byte{0, 1, 0xff}) {
		t.Fatalf("raw: %v", got["raw"])
	}
	ref, err := avro.Marshal(s, got)
	if err != nil {
		t.Fatal(err)
	}
	// hamba/avro writes arrays and maps in blocks with their byte size,
	// another valid encoding: it must read as the same record.
	fromRef, err := c.decode(nil, ref)
	if err != nil || !jsonEqual(t, fromRef, []byte(orderJSON)) {
		t.Fatalf("hamba/avro's bytes read as %s (%v)", fromRef, err)
	}
	back, err := c.decode(nil, bin)
	if err != nil {
		t.Fatal(err)
	}
	if !jsonEqual(t, back, []byte(orderJSON)) {
		t.Fatalf("decoded\n%s\nwant\n%s", back, orderJSON)
	}
	again, err := c.encode(nil, back)
	if err != nil || !bytes.Equal(again, bin) {
		t.Fatalf("re-encoded %x (%v), want %x", again, err, bin)
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	da, db := json.NewDecoder(bytes.NewReader(a)), json.NewDecoder(bytes.NewReader(b))
	da.UseNumber()
	db.UseNumber()
	if err := da.Decode(&x); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := db.Decode(&y); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

// TestAvroMissingFieldsTakeDefaults: a field left out takes its default,
// or null for a nullable union; one without either fails naming it.
func TestAvroMissingFieldsTakeDefaults(t *testing.T) {
	c := mustAvro(t, `{"type":"record","name":"R","fields":[{"name":"a","type":"long"},{"name":"b","type":"string","default":"x"},{"name":"c","type":["null","int"]}]}`)
	bin, err := c.encode(nil, []byte(`{"a":1,"_kafka_offset":5}`))
	if err != nil {
		t.Fatal(err)
	}
	back, _ := c.decode(nil, bin)
	if string(back) != `{"a":1,"b":"x","c":null}` {
		t.Fatalf("got %s", back)
	}
	_, err = c.encode(nil, []byte(`{"b":"y"}`))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Path != "a" || err.Error() != "field a: missing, and the schema gives no default" {
		t.Fatalf("err = %v", err)
	}
}

// TestAvroMisfitNamesFieldPath: a value of the wrong type fails with the
// field's path and what the schema wanted.
func TestAvroMisfitNamesFieldPath(t *testing.T) {
	c := mustAvro(t, orderSchema)
	cases := map[string]string{
		`"ship":{"city":7}`:  `field ship.city: want a string, got 7`,
		`"items":["a",1]`:    `field items[1]: want a string, got 1`,
		`"qty":3000000000`:   `field qty: want an Avro int (a whole number), got 3000000000`,
		`"status":"LOST"`:    `field status: want one of the symbols of enum shop.Status (NEW, PAID), got "LOST"`,
		`"price":"1.234"`:    `field price: want a decimal as text with at most 2 digits after the point, got "1.234"`,
		`"any":{"double":1}`: `field any: want {"<branch>": value} with a branch of the union (null, long, string, shop.Tag), got {"double":1}`,
		`"attrs":{"k":"v"}`:  `field attrs[k]: want an Avro long (a whole number), got "v"`,
		`"tag":"YWJj"`:       `field tag: want 2 bytes (Avro fixed shop.Tag), got 3, got "YWJj"`,
	}
	for patch, want := range cases {
		rec := []byte(`{` + patch + `,` + orderJSON[1:])
		_, err := c.encode(nil, rec)
		if err == nil || err.Error() != want {
			t.Errorf("%s:\n got %v\nwant %s", patch, err, want)
		}
	}
}

// TestAvroDecodeRejectsBadData: data its schema does not read whole is an
// error, not a record.
func TestAvroDecodeRejectsBadData(t *testing.T) {
	c := mustAvro(t, `{"type":"record","name":"R","fields":[{"name":"s","type":"string"}]}`)
	for _, data := range [][]byte{{}, {0x08, 'a'}, {0x02, 'a', 'b'}} {
		if out, err := c.decode(nil, data); err == nil {
			t.Errorf("%x decoded as %s", data, out)
		}
	}
}

func BenchmarkAvroDecode(b *testing.B) {
	c := mustAvro(b, benchSchema)
	bin, err := c.encode(nil, []byte(benchJSON))
	if err != nil {
		b.Fatal(err)
	}
	var dst []byte
	b.ReportAllocs()
	b.SetBytes(int64(len(bin)))
	for b.Loop() {
		dst, _ = c.decode(dst[:0], bin)
	}
}

func BenchmarkAvroEncode(b *testing.B) {
	c := mustAvro(b, benchSchema)
	var dst []byte
	rec := []byte(benchJSON)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchJSON)))
	for b.Loop() {
		var err error
		if dst, err = c.encode(dst[:0], rec); err != nil {
			b.Fatal(err)
		}
	}
}

// benchSchema and benchJSON are the benchmark's order event (the harness's
// Example 3 record, with the source's metadata the sink leaves out).
const benchSchema = `{"type":"record","name":"Order","fields":[{"name":"user_id","type":"string"},{"name":"order_id","type":"long"},{"name":"amount","type":"double"},{"name":"country","type":"string"},{"name":"ts","type":"long"}]}`

const benchJSON = `{"user_id":"u-1234","order_id":987654,"amount":250.75,"country":"DE","ts":1765100000000,"_kafka_key":"u-1234","_kafka_partition":3,"_kafka_offset":123456,"_kafka_timestamp":1765100000000,"_kafka_headers":{}}`
