package jsonfile

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/plugin"
	"github.com/conveyor-etl/conveyor/plugin/plugintest"
)

// json.read keeps plugin.Source's contract (plugintest's suite). A file
// has no committed position: every run reads it whole (Resumes false).
func TestReadConformance(t *testing.T) {
	plugintest.TestSource(t, plugintest.SourceCase{
		Input: func(t testing.TB, records [][]byte) plugintest.NewSource {
			path := filepath.Join(t.TempDir(), "in.jsonl")
			var data []byte
			for _, r := range records {
				data = append(append(data, r...), '\n')
			}
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			return func(ctx context.Context) (plugin.Source, error) {
				c := DefaultReadConfig()
				c.Path, c.BatchSize, c.Window = path, 20, 4
				return NewReader(ctx, c, plugin.Env{Logger: zap.NewNop()})
			}
		},
	})
}

// json.write keeps plugin.Sink's contract as a plugin.Flusher: what it
// wrote is read back from the target file once flushed.
func TestWriteConformance(t *testing.T) {
	plugintest.TestSink(t, plugintest.SinkCase{
		New: func(t testing.TB) (plugin.Sink, plugintest.ReadBack) {
			path := filepath.Join(t.TempDir(), "out.jsonl")
			c := DefaultWriteConfig()
			c.Path, c.Format, c.Mode = path, "jsonl", "overwrite"
			s, err := NewWriter(context.Background(), c, plugin.Env{Logger: zap.NewNop(), SourceFunctions: []string{"json.read"}})
			if err != nil {
				t.Fatal(err)
			}
			return s, func(t testing.TB) [][]byte { return readLines(t, path) }
		},
	})
}

// readLines returns the lines of path; none when it does not exist yet.
func readLines(t testing.TB, path string) [][]byte {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, append([]byte(nil), sc.Bytes()...))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
