package jsonfile

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/plugin"
)

// readSource runs json.read over path and returns every batch, acking each
// once it is received.
func readSource(t testing.TB, path string, c *ReadConfig) ([][]plugin.Record, error) {
	t.Helper()
	c.Path = path
	src, err := NewReader(c, plugin.Env{Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer src.(interface{ Close() error }).Close()
	msgs, err := src.Subscribe(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var batches [][]plugin.Record
	for msg := range msgs {
		b, ok := plugin.BatchOf(msg)
		if !ok {
			t.Fatal("message without a batch")
		}
		batches = append(batches, b.Records)
		msg.Ack()
	}
	<-src.Done()
	return batches, src.Err()
}

func writeFile(t testing.TB, data string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "in.json")
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReadBatches(t *testing.T) {
	var in strings.Builder
	var want []string
	in.WriteString("[\n")
	for i := range 2500 {
		if i > 0 {
			in.WriteString(",\n")
		}
		if i%7 == 0 { // not compact: copied compacted
			fmt.Fprintf(&in, "{ \"i\": %d,\n  \"s\": \"%s\" }", i, strings.Repeat("x", i%300))
		} else {
			fmt.Fprintf(&in, `{"i":%d,"s":"%s"}`, i, strings.Repeat("x", i%300))
		}
		want = append(want, fmt.Sprintf(`{"i":%d,"s":"%s"}`, i, strings.Repeat("x", i%300)))
	}
	in.WriteString("\n]\n")
	c := DefaultReadConfig()
	c.BatchSize = 1000
	batches, err := readSource(t, writeFile(t, in.String()), c)
	if err != nil {
		t.Fatal(err)
	}
	if len(batches) != 3 || len(batches[0]) != 1000 || len(batches[1]) != 1000 || len(batches[2]) != 500 {
		t.Fatalf("batch sizes %d", len(batches))
	}
	n := 0
	for _, b := range batches {
		for _, r := range b {
			if string(r.Value) != want[n] || r.Offset != int64(n) {
				t.Fatalf("record %d = %q at offset %d, want %q", n, r.Value, r.Offset, want[n])
			}
			if cap(r.Value) != len(r.Value) {
				t.Fatalf("record %d: cap %d > len %d: an append would overwrite the next record", n, cap(r.Value), len(r.Value))
			}
			n++
		}
	}
	// Values do not share bytes: changing one leaves the others intact.
	for _, b := range batches {
		for i := range b {
			b[i].Value[0] = 'X'
		}
	}
	n = 0
	for _, b := range batches {
		for _, r := range b {
			if string(r.Value[1:]) != want[n][1:] {
				t.Fatalf("record %d = %q after writing the first byte of each record", n, r.Value)
			}
			n++
		}
	}
}

func TestReadSkipInvalid(t *testing.T) {
	path := writeFile(t, "{\"a\":1}\nnot json\n{\"a\": 2}\n\n{\"a\":3}")
	c := DefaultReadConfig()
	c.SkipInvalid = true
	batches, err := readSource(t, path, c)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range batches {
		for _, r := range b {
			got = append(got, fmt.Sprintf("%d:%s", r.Offset, r.Value))
		}
	}
	if want := `0:{"a":1} 2:{"a":2} 3:{"a":3}`; strings.Join(got, " ") != want {
		t.Errorf("got %q, want %q", got, want)
	}

	_, err = readSource(t, path, DefaultReadConfig())
	if err == nil || !strings.Contains(err.Error(), path+": line 2: record 1: ") {
		t.Errorf("error %v, want one naming %s line 2", err, path)
	}
}

// BenchmarkRead is json.read over a JSON array file of 100,000 records of
// about 150 bytes, one per line, as the benchmark harness writes them.
func BenchmarkRead(b *testing.B) {
	const records = 100_000
	var buf bytes.Buffer
	buf.WriteString("[\n")
	for i := range records {
		fmt.Fprintf(&buf, `{"event_id":"evt-%012d","user_id":%d,"event":"purchase","amount":%d.%02d,"currency":"EUR","ts":"2026-11-25T12:00:03Z","country":"FR","device":"web"}`,
			i, i*7919%100000+1, i%200, i%100)
		if i+1 < records {
			buf.WriteByte(',')
		}
		buf.WriteByte('\n')
	}
	buf.WriteString("]\n")
	path := writeFile(b, buf.String())
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	for b.Loop() {
		batches, err := readSource(b, path, DefaultReadConfig())
		if err != nil {
			b.Fatal(err)
		}
		if n := (len(batches)-1)*1000 + len(batches[len(batches)-1]); n != records {
			b.Fatalf("read %d records", n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*records), "ns/record")
}
