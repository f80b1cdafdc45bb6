package stdout

import (
	"bytes"
	"sync"
	"testing"

	"github.com/conveyor-etl/conveyor/plugin"
	"github.com/conveyor-etl/conveyor/plugin/plugintest"
)

// stdout.write keeps plugin.Sink's contract, its writer redirected to a
// buffer: a record is "durable" once written to the writer.
func TestConformance(t *testing.T) {
	plugintest.TestSink(t, plugintest.SinkCase{
		New: func(t testing.TB) (plugin.Sink, plugintest.ReadBack) {
			w := &lockedBuffer{}
			return New(w, DefaultConfig()), func(testing.TB) [][]byte { return w.lines() }
		},
	})
}

// lockedBuffer is a writer the suite's read-back may read while the sink
// writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) lines() [][]byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out [][]byte
	for _, l := range bytes.Split(b.buf.Bytes(), []byte("\n")) {
		if len(l) > 0 {
			out = append(out, bytes.Clone(l))
		}
	}
	return out
}
