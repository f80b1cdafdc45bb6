package jsonfile

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/plugin"
)

// readSource runs json.read over path and returns every batch, acking each
// once it is received.
func readSource(t testing.TB, path string, c *ReadConfig) ([][]plugin.Record, error) {
	t.Helper()
	c.Path = path
	src, err := NewReader(context.Background(), c, plugin.Env{Logger: zap.NewNop()})
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
		b, err := plugin.DecodeBatch(msg)
		if err != nil {
			t.Fatal(err)
		}
		batches = append(batches, b.Records)
		msg.Ack()
	}
	<-src.Done()
	return batches, src.(plugin.Failer).Err()
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

// offsetsAndValues lists the records of batches as "offset:value".
func offsetsAndValues(batches [][]plugin.Record) string {
	var out []string
	for _, b := range batches {
		for _, r := range b {
			out = append(out, fmt.Sprintf("%d:%s", r.Offset, r.Value))
		}
	}
	return strings.Join(out, " ")
}

func TestReadSkipInvalid(t *testing.T) {
	path := writeFile(t, "{\"a\":1}\nnot json\n{\"a\": 2}\n\n{\"a\":3}")
	c := DefaultReadConfig()
	c.SkipInvalid = true
	batches, err := readSource(t, path, c)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := offsetsAndValues(batches), `0:{"a":1} 2:{"a":2} 3:{"a":3}`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}

	_, err = readSource(t, path, DefaultReadConfig())
	if want := "json.read " + path + `: line 2, column 1: record 2: expected null, found "not"`; err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
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

// hugeLineFile writes good records around a line of size bytes: a JSON
// Lines file, or an array with one record per line.
func hugeLineFile(t *testing.T, format string, size int) (path string, good []string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "in."+format)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sep, open, end := "\n", "", "\n"
	if format == "json" {
		sep, open, end = ",\n", "[\n", "\n]\n"
	}
	fmt.Fprint(f, open)
	for i := range 5 {
		if i > 0 {
			fmt.Fprint(f, sep)
		}
		if i == 2 {
			fmt.Fprint(f, `{"huge":"`)
			chunk := strings.Repeat(`x\"y`, 1<<16)
			for n := 0; n < size-len(`{"huge":""}`); n += len(chunk) {
				fmt.Fprint(f, chunk[:min(len(chunk), size-len(`{"huge":""}`)-n)])
			}
			fmt.Fprint(f, `"}`)
			continue
		}
		rec := fmt.Sprintf(`{"i":%d}`, i)
		good = append(good, rec)
		fmt.Fprint(f, rec)
	}
	fmt.Fprint(f, end)
	return path, good
}

// A record over max_record_bytes between good ones: with skip_invalid it
// is skipped, logged, and the good records come out with their offsets;
// otherwise the run fails naming the stage, file, line, size and key, after
// the records before it. Either way reading it takes memory bounded by the
// limit, not by the record.
func TestReadMaxRecordBytes(t *testing.T) {
	const limit, size = 1 << 20, 24 << 20
	for _, format := range []string{"jsonl", "json"} {
		path, good := hugeLineFile(t, format, size)
		hugeLine := 3
		if format == "json" {
			hugeLine = 4 // after "[" on line 1
		}

		c := DefaultReadConfig()
		c.SkipInvalid, c.MaxRecordBytes = true, limit
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		batches, err := readSource(t, path, c)
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := offsetsAndValues(batches), fmt.Sprintf("0:%s 1:%s 3:%s 4:%s", good[0], good[1], good[2], good[3]); got != want {
			t.Errorf("%s: got %q, want %q", format, got, want)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4*limit {
			t.Errorf("%s: reading past a record of %d bytes allocated %d bytes, with a limit of %d", format, size, alloc, limit)
		}

		c = DefaultReadConfig()
		c.MaxRecordBytes = limit
		c.Path = path
		st := &config.Stage{ID: "load", Function: "json.read"}
		src, err := NewReader(context.Background(), c, plugin.Env{Logger: zap.NewNop(), Stage: st})
		if err != nil {
			t.Fatal(err)
		}
		msgs, _ := src.Subscribe(context.Background(), "")
		n := 0
		for msg := range msgs {
			b, _ := plugin.DecodeBatch(msg)
			n += len(b.Records)
			msg.Ack()
		}
		<-src.Done()
		src.(interface{ Close() error }).Close()
		want := fmt.Sprintf(`stage "load" (json.read): %s: line %d: record 3 is %d bytes, over max_record_bytes = %d: raise max_record_bytes, or set skip_invalid = true to skip such records`,
			path, hugeLine, size, limit)
		if err := src.(plugin.Failer).Err(); err == nil || err.Error() != want || n != 2 {
			t.Errorf("%s: %d records, then error\n  %v\nwant 2, then\n  %s", format, n, err, want)
		}
	}
}

// max_record_bytes out of range is a config error naming the key.
func TestReadMaxRecordBytesRange(t *testing.T) {
	for v, ok := range map[string]bool{"1024": true, "1073741824": true, "1023": false, "0": false, "-1": false, "1073741825": false} {
		p, err := config.Parse("p.toml", []byte("[[stages]]\nid = \"load\"\nfunction = \"json.read\"\n[stages.config]\npath = \"x.json\"\nmax_record_bytes = "+v+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		err = config.DecodeStage(&p.Stages[0], DefaultReadConfig())
		want := `p.toml:6:1: stages[0] "load" config.max_record_bytes: want a whole number from 1024 to 1073741824 (1 KiB to 1 GiB), got an integer ` + v
		if ok != (err == nil) || !ok && err.Error() != want {
			t.Errorf("max_record_bytes = %s: error %v", v, err)
		}
	}
}
