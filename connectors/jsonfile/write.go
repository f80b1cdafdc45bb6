package jsonfile

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/jsonio"
	"github.com/conveyor-etl/conveyor/plugin"
)

// WriteConfig is the config of "json.write".
type WriteConfig struct {
	Path   string `key:"path" required:"true" doc:"file to write (replaced when the pipeline ends)"`
	Format string `key:"format" enum:"records,array,jsonl,ndjson" doc:"records (one JSON array) or jsonl (one record per line)"`
	Pretty bool   `key:"pretty" doc:"indent the output"`
}

// DefaultWriteConfig returns the json.write defaults.
func DefaultWriteConfig() *WriteConfig { return &WriteConfig{Format: "records"} }

// Validate checks the keys together.
func (c *WriteConfig) Validate() error {
	if c.Path == "" {
		return config.Invalid("path", "must not be empty")
	}
	return nil
}

// Writer is the json.write sink.
type Writer struct {
	mu   sync.Mutex
	w    *jsonio.Writer
	bufs [][]byte
}

// NewWriter starts a temporary file beside c.Path. It refuses a path that a
// json.read stage of the same pipeline reads.
func NewWriter(c *WriteConfig, env plugin.Env) (plugin.Sink, error) {
	path := env.Pipeline.ResolvePath(c.Path)
	if err := notAnInput(path, env.Pipeline); err != nil {
		return nil, err
	}
	format, err := jsonio.ParseFormat(c.Format)
	if err != nil {
		return nil, err
	}
	w, err := jsonio.Create(path, jsonio.WriteOptions{Format: format, Pretty: c.Pretty})
	if err != nil {
		return nil, fmt.Errorf("json.write: %w", err)
	}
	return &Writer{w: w}, nil
}

func notAnInput(path string, p *config.Pipeline) error {
	if p == nil {
		return nil
	}
	target, _ := filepath.Abs(path)
	for _, st := range p.Stages {
		if st.Function != "json.read" {
			continue
		}
		if v, ok := st.Config["path"].V.(string); ok {
			if src, _ := filepath.Abs(p.ResolvePath(v)); src == target {
				return fmt.Errorf("json.write path %q is the file stage %q reads: write somewhere else", path, st.ID)
			}
		}
	}
	return nil
}

// Write appends records to the temporary file.
func (w *Writer) Write(_ context.Context, recs []plugin.Record) plugin.Pending {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.bufs = w.bufs[:0]
	for _, r := range recs {
		w.bufs = append(w.bufs, r.Value)
	}
	return plugin.Done{Err: w.w.Write(w.bufs...)}
}

// Durable is false: records are durable only once Flush has renamed the file.
func (w *Writer) Durable() bool { return false }

// Flush finishes the document, syncs it and renames it over the target.
func (w *Writer) Flush(context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Commit()
}

// Close drops the temporary file if Flush did not happen.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.w.Abort(); err != nil && !errors.Is(err, jsonio.ErrClosed) {
		return err
	}
	return nil
}
