package record_test

import (
	"fmt"

	"github.com/conveyor-etl/conveyor/internal/record"
)

func ExampleEnrich() {
	m := record.Meta{Key: []byte("k1"), Partition: 0, Offset: 17, Timestamp: 1764072000000}
	var buf []byte
	buf = record.Enrich(buf[:0], []byte(`{ "id": 1, "name": "a b" }`), m)
	fmt.Println(string(buf))
	m.KeyNull = true
	buf = record.Enrich(buf[:0], []byte(`not json`), m)
	fmt.Println(string(buf))
	// Output:
	// {"id":1,"name":"a b","_kafka_key":"k1","_kafka_partition":0,"_kafka_offset":17,"_kafka_timestamp":1764072000000}
	// {"_kafka_payload":"not json","_kafka_key":null,"_kafka_partition":0,"_kafka_offset":17,"_kafka_timestamp":1764072000000}
}

func ExampleCompilePath() {
	p := record.CompilePath("user.id")
	key, ok := record.KeyText(p.Get([]byte(`{"user":{"id":4711}}`)))
	fmt.Println(string(key), ok)
	// Output: 4711 true
}
