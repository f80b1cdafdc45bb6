package jsonfile

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

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
// a JSON array. It refuses a path that a json.read stage of the same
// pipeline reads.
func NewWriter(c *WriteConfig, env plugin.Env) (plugin.Sink, error) {
	now := time.Now()
	runID := env.RunID
	if runID == "" {
		runID = config.NewRunID(now)
	}
	path := env.Pipeline.ResolvePath(config.ExpandRunVars(c.Path, runID, now))
	if err := notAnInput(path, env.Pipeline); err != nil {
		return nil, err
	}
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
	if !appending && c.Mode == "overwrite" && !perRun && !readsOnlyFiles(env.Pipeline, env.Stage) {
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
	case readsOnlyFiles(env.Pipeline, env.Stage):
		return false, `mode "auto" overwrites: every source feeding the stage is json.read`
	default:
		return true, `mode "auto" appends: a source feeding the stage commits what it consumed`
	}
}

// readsOnlyFiles reports whether every source that st reads from, through
// any chain of stages, is a json.read, which reads its whole file on every
// run. It is false when the pipeline is unknown.
func readsOnlyFiles(p *config.Pipeline, st *config.Stage) bool {
	if p == nil || st == nil {
		return false
	}
	seen := map[string]bool{}
	var only func(st *config.Stage) bool
	only = func(st *config.Stage) bool {
		if len(st.Inputs) == 0 {
			return st.Function == "json.read"
		}
		for _, id := range st.Inputs {
			if seen[id] {
				continue
			}
			seen[id] = true
			if in := p.StageByID(id); in == nil || !only(in) {
				return false
			}
		}
		return true
	}
	return only(st)
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

// Durable is false: records are durable only once Flush has put them in
// the file.
func (w *Writer) Durable() bool { return false }

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
