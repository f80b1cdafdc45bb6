package record

import "testing"

const benchEvent = `{"event_id":"e-000123","user_id":4711,"event":"purchase","amount":153.25,"currency":"EUR","ts":"2026-11-25T12:00:00Z","tags":["a","b"]}`

func BenchmarkEnrich(b *testing.B) {
	value := []byte(benchEvent)
	m := Meta{Key: []byte("e-000123"), Partition: 7, Offset: 123456789, Timestamp: 1795608000000}
	dst := make([]byte, 0, 512)
	b.SetBytes(int64(len(value)))
	b.ReportAllocs()
	for b.Loop() {
		dst = Enrich(dst[:0], value, m)
	}
}

func BenchmarkEnrichNonJSON(b *testing.B) {
	value := []byte(`2026-11-25T12:00:00Z INFO purchase e-000123 user=4711 amount=153.25 currency=EUR tags="a,b" path=/checkout/confirm status=200 ms=12`)
	m := Meta{Key: []byte("e-000123"), Partition: 7, Offset: 123456789, Timestamp: 1795608000000}
	dst := make([]byte, 0, 512)
	b.SetBytes(int64(len(value)))
	b.ReportAllocs()
	for b.Loop() {
		dst = Enrich(dst[:0], value, m)
	}
}

func BenchmarkFieldGet(b *testing.B) {
	value := []byte(benchEvent)
	p := CompilePath("amount")
	b.ReportAllocs()
	for b.Loop() {
		if r := p.Get(value); r.Num != 153.25 {
			b.Fatal(r)
		}
	}
}
