package jsonio

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"testing"
)

const benchRecords = 100_000

func benchRecord(i int) []byte {
	return fmt.Appendf(nil, `{"event_id":"e-%06d","user_id":%d,"event":"purchase","amount":153.25,"currency":"EUR","tags":["a","b"]}`, i, i%5000)
}

func benchData(format Format) []byte {
	var buf bytes.Buffer
	if format == FormatRecords {
		buf.WriteString("[\n")
	}
	for i := range benchRecords {
		if format == FormatRecords && i > 0 {
			buf.WriteString(",\n")
		}
		buf.Write(benchRecord(i))
		if format == FormatJSONL {
			buf.WriteByte('\n')
		}
	}
	if format == FormatRecords {
		buf.WriteString("\n]\n")
	}
	return buf.Bytes()
}

func benchRead(b *testing.B, format Format) {
	data := benchData(format)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	records := 0
	for b.Loop() {
		r := NewReader(bytes.NewReader(data), FormatAuto)
		n := 0
		for {
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != benchRecords {
			b.Fatalf("read %d records", n)
		}
		records += n
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkReadJSONL(b *testing.B)   { benchRead(b, FormatJSONL) }
func BenchmarkReadRecords(b *testing.B) { benchRead(b, FormatRecords) }

func BenchmarkWrite(b *testing.B) {
	recs := make([][]byte, 1000)
	for i := range recs {
		recs[i] = benchRecord(i)
	}
	for _, opt := range []WriteOptions{{Format: FormatRecords}, {Format: FormatRecords, Pretty: true}, {Format: FormatJSONL}} {
		name := opt.Format.String()
		if opt.Pretty {
			name += "-pretty"
		}
		b.Run(name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "out.json")
			w, err := Create(path, opt)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(recs[0])))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := w.Write(recs[i%len(recs)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "records/s")
			if err := w.Commit(); err != nil {
				b.Fatal(err)
			}
		})
	}
}
