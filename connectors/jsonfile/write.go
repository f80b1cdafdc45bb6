package jsonfile

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/errkind"
	"github.com/conveyor-etl/conveyor/internal/jsonio"
	"github.com/conveyor-etl/conveyor/plugin"
)

// WriteConfig is the config of "json.write".
type WriteConfig struct {
	Path   string `key:"path" required:"true" runvars:"true" doc:"file to write; {{run_id}} (a new id per run, sorting by start time) and {{date}} (the UTC date the run starts, YYYY-MM-DD) are filled in when the run starts"`
	Format string `key:"format" enum:"records,array,jsonl,ndjson" doc:"records (one JSON array) or jsonl (one record per line)"`
	Mode   string `key:"mode" enum:"auto,append,overwrite" doc:"append: keep the file's records and add the run's; overwrite: replace the file; auto: overwrite when every source feeding the stage is json.read (the file is read whole each run), else append (a Kafka source commits what it consumed: replacing the file would lose the earlier runs' records)"`
	Pretty bool   `key:"pretty" doc:"indent the output"`
}

// DefaultWriteConfig returns the json.write defaults.
func DefaultWriteConfig() *WriteConfig { return &WriteConfig{Format: "records", Mode: "auto"} }

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

// NewWriter starts a temporary file beside the path (with {{run_id}} and
// {{date}} filled in), holding the file's records first when appending to
// a JSON array. (Compile refuses a path that a json.read stage of the
// same pipeline reads: see CheckWrite.)
func NewWriter(_ context.Context, c *WriteConfig, env plugin.Env) (plugin.Sink, error) {
	now := time.Now()
	runID := env.RunID
	if runID == "" {
		runID = config.NewRunID(now)
	}
	path := env.ResolvePath(config.ExpandRunVars(c.Path, runID, now))
	format, err := jsonio.ParseFormat(c.Format)
	if err != nil {
		return nil, err
	}
	log := env.Logger
	if log == nil {
		log = zap.NewNop()
	}
	appending, why := appendMode(c.Mode, env)
	log.Info("json.write", zap.String("path", path), zap.Bool("append", appending), zap.String("because", why))
	perRun := config.ExpandRunVars(c.Path, "a", now) != config.ExpandRunVars(c.Path, "b", now) // {{run_id}}
	if !appending && c.Mode == "overwrite" && !perRun && !readsOnlyFiles(env) {
		log.Warn("mode = \"overwrite\" replaces the file on every run, while a source feeding it commits what it consumed: "+
			"the next run's file will not hold this run's records (use mode = \"append\", or {{run_id}} in the path)", zap.String("path", path))
	}
	opt := jsonio.WriteOptions{Format: format, Pretty: c.Pretty, Append: appending,
		Warn: func(msg string) { log.Warn(msg) }}
	w, err := jsonio.Create(path, opt)
	if errors.Is(err, jsonio.ErrCannotAppend) {
		return nil, errkind.Mark(fmt.Errorf("json.write (%s): %w; set format to the file's, mode = \"overwrite\" to replace it, or write to another path", why, err), ErrCannotAppend)
	}
	if err != nil {
		return nil, fmt.Errorf("json.write: %w", err)
	}
	return &Writer{w: w}, nil
}

// appendMode resolves c.Mode, "auto" included (see WriteConfig), and says
// why.
func appendMode(mode string, env plugin.Env) (appending bool, why string) {
	switch {
	case mode == "append" || mode == "overwrite":
		return mode == "append", fmt.Sprintf("mode = %q", mode)
	case readsOnlyFiles(env):
		return false, `mode "auto" overwrites: every source feeding the stage is json.read`
	default:
		return true, `mode "auto" appends: a source feeding the stage commits what it consumed`
	}
}

// readsOnlyFiles reports whether every source the stage reads from,
// through any chain of stages, is a json.read, which reads its whole file
// on every run. It is false when the sources are unknown.
func readsOnlyFiles(env plugin.Env) bool {
	if len(env.SourceFunctions) == 0 {
		return false
	}
	for _, f := range env.SourceFunctions {
		if f != "json.read" {
			return false
		}
	}
	return true
}

// CheckWrite is json.write's cross-stage check: its path must not be the
// file a json.read stage of the same pipeline reads.
func CheckWrite(cfg any, _ *config.Stage, p *config.Pipeline) error {
	c := cfg.(*WriteConfig)
	if c.Path == "" || config.ExpandRunVars(c.Path, "a", time.Time{}) != config.ExpandRunVars(c.Path, "b", time.Time{}) {
		return nil // a per-run path is never an input
	}
	path := p.ResolvePath(config.ExpandRunVars(c.Path, "", time.Now()))
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

// Publish appends the records of msgs to the temporary file; they are
// durable only once Flush returns.
func (w *Writer) Publish(_ string, msgs ...*message.Message) error {
	return plugin.PublishBySend(w, msgs)
}

// Send appends records to the temporary file.
func (w *Writer) Send(_ context.Context, recs []plugin.Record) plugin.Pending {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.bufs = w.bufs[:0]
	for _, r := range recs {
		w.bufs = append(w.bufs, r.Value)
	}
	return plugin.Done{Err: w.w.Write(w.bufs...)}
}

// Flush finishes the document and makes it durable before returning: the
// temporary file is synced and renamed over the target (and the directory
// synced), or, when appending JSON Lines, copied to the target's end and
// the target synced.
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
