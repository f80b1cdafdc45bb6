package jsonfile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/emitter"
	"github.com/conveyor-etl/conveyor/internal/errkind"
	"github.com/conveyor-etl/conveyor/internal/jsonio"
	"github.com/conveyor-etl/conveyor/plugin"
)

// ReadConfig is the config of "json.read".
type ReadConfig struct {
	Path        string `key:"path" required:"true" doc:"file to read"`
	Format      string `key:"format" enum:"auto,records,array,jsonl,ndjson" doc:"records (a JSON array), jsonl (one value per line) or auto (by the first character)"`
	BatchSize   int    `key:"batch_size" min:"1" doc:"records per batch"`
	Window      int    `key:"window" min:"1" doc:"batches in flight at once; each holds batch_size records in memory, and fewer leave a Kafka sink waiting for acks"`
	SkipInvalid bool   `key:"skip_invalid" doc:"skip malformed JSON Lines, and records over max_record_bytes in either format (each logged with its line), instead of failing the run"`
	// MaxRecordBytes bounds the memory one record can take.
	MaxRecordBytes int `key:"max_record_bytes" min:"1024" max:"1073741824" why:"1 KiB to 1 GiB" doc:"largest record, in bytes (its line, or its element's text in an array): a larger one fails the run, naming its line, or with skip_invalid is skipped; it is read past, never held whole"`
}

// DefaultReadConfig returns the json.read defaults.
//
// Window is 16: with 4 batches of 1000 in flight, a Kafka sink spent its
// time waiting for acks (json.read → kafka ran at 0.8× a raw sarama
// producer; with 16, at 0.9-1.0×, for 3 MB more memory).
//
// MaxRecordBytes is 16 MiB: far above any record a Kafka sink can send
// (max_message_bytes is 1 MB by default), and little memory.
func DefaultReadConfig() *ReadConfig {
	return &ReadConfig{Format: "auto", BatchSize: 1000, Window: 16, MaxRecordBytes: 16 << 20}
}

// Validate checks the keys together.
// The numbers' bounds are in their tags.
func (c *ReadConfig) Validate() error {
	if c.Path == "" {
		return config.Invalid("path", "must not be empty")
	}
	return nil
}

// NewReader opens the file and returns a source over it.
func NewReader(_ context.Context, c *ReadConfig, env plugin.Env) (plugin.Source, error) {
	format, err := jsonio.ParseFormat(c.Format)
	if err != nil {
		return nil, err
	}
	path := env.ResolvePath(c.Path)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errkind.Mark(fmt.Errorf("json.read: %w", err), ErrInputNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("json.read: %w", err)
	}
	r := jsonio.NewReaderSize(f, format, readBufSize)
	r.SetMaxRecordBytes(c.MaxRecordBytes)
	where := "json.read " + path // errors of the source are not wrapped with its stage
	if env.Stage != nil {
		where = fmt.Sprintf("stage %q (json.read): %s", env.Stage.ID, path)
	}
	var index int64
	var a arena
	log := env.Logger
	read := func(batch []plugin.Record, max int) ([]plugin.Record, error) {
		a.buf = nil // a new arena for each batch: the last one is still in flight
		for len(batch) < max {
			v, err := r.Next()
			if err == nil {
				batch = append(batch, plugin.Record{Value: a.copy(v, max-len(batch)), Offset: index})
				index++
				continue
			}
			if errors.Is(err, io.EOF) {
				return batch, emitter.ErrStop
			}
			var re *jsonio.RecordError // escapes to the heap: only on errors
			var tl *jsonio.TooLargeError
			switch {
			case !errors.As(err, &re):
				return batch, fmt.Errorf("%s: %w", where, err)
			case c.SkipInvalid:
				log.Warn("skipping a record", zap.String("path", path), zap.Int("line", re.Line), zap.Error(re.Err))
				index++
			case errors.As(re.Err, &tl):
				return batch, errkind.Mark(fmt.Errorf("%s: line %d: record %d is %d bytes, over max_record_bytes = %d: raise max_record_bytes, or set skip_invalid = true to skip such records",
					where, re.Line, re.Index+1, tl.Size, tl.Limit), ErrInvalidRecord)
			default:
				return batch, errkind.Mark(fmt.Errorf("%s: %w", where, err), ErrInvalidRecord)
			}
		}
		return batch, nil
	}
	return emitter.New(path, c.BatchSize, c.Window, read, f.Close), nil
}

// readBufSize is the window of the file reader, which reads the file
// directly (no bufio.Reader: that would copy every byte once more).
const readBufSize = 256 << 10

// maxArenaChunk bounds one allocation of an arena.
const maxArenaChunk = 4 << 20

// arena holds the values of one batch. The Reader's record is only valid
// until its next call, so each value is copied out; an arena copies them
// into a few large allocations instead of one each. A chunk is never
// reused or grown in place: the records point into it until the batch's
// last reference is gone, which the garbage collector sees.
type arena struct {
	buf          []byte // the current chunk; values are appended within its capacity
	bytes, count int64  // values copied so far, for sizing chunks
}

// copy returns a copy of v with its capacity cut to its length (an append to
// it cannot overwrite the next value). left is the number of values still
// expected in the batch, v included.
func (a *arena) copy(v []byte, left int) []byte {
	if cap(a.buf)-len(a.buf) < len(v) {
		// Room for the rest of the batch at the average size so far,
		// plus a sixteenth.
		avg := int64(len(v))
		if a.count > 0 {
			avg = a.bytes/a.count + 1
		}
		n := min(avg*int64(left), maxArenaChunk)
		a.buf = make([]byte, 0, max(int(n+n/16), len(v)))
	}
	a.bytes += int64(len(v))
	a.count++
	s := len(a.buf)
	a.buf = append(a.buf, v...)
	return a.buf[s:len(a.buf):len(a.buf)]
}
