package runtime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/plugin"
)

// dlqTopicRecordLimit caps the record kept in an entry on a dead-letter
// topic: JSON escaping can grow text up to six times, and the entry must fit
// Kafka's default 1 MB message limit even when the record itself did not.
const dlqTopicRecordLimit = 128 << 10

// buildDeadLetter makes the dead-letter sink of [error_handling], if any: a
// JSON Lines file, or a Kafka topic written through the registry's "kafka"
// function (on the brokers of the pipeline's first kafka stage unless given).
func (r *run) buildDeadLetter() (plugin.Sink, error) {
	dl := r.plan.Pipeline.ErrorHandling.DeadLetterQueue
	if dl == nil {
		return nil, nil
	}
	if dl.Path != "" {
		return openFileDLQ(dl.Path)
	}
	spec, ok := r.opts.Registry.Lookup("kafka")
	if !ok || spec.Sink == nil {
		return nil, fmt.Errorf("error_handling.dead_letter_queue: topic needs the kafka function")
	}
	brokers := dl.Brokers
	if brokers == "" {
		brokers = r.firstKafkaBrokers()
	}
	if brokers == "" {
		return nil, fmt.Errorf("%s: error_handling.dead_letter_queue: set brokers (no kafka stage to take them from)", dl.Pos)
	}
	st := &config.Stage{Index: -1, ID: "dead_letter_queue", Function: "kafka", Pos: dl.Pos, Config: map[string]config.Value{
		"brokers": {V: brokers, Pos: dl.Pos}, "topic": {V: dl.Topic, Pos: dl.Pos},
	}}
	cfg, err := plugin.DecodeConfig(spec.Sink, st)
	if err != nil {
		return nil, err
	}
	return spec.Sink.Build(cfg, plugin.Env{Pipeline: r.plan.Pipeline, Stage: st, Logger: r.log})
}

func (r *run) firstKafkaBrokers() string {
	for _, st := range r.plan.Pipeline.Stages {
		if st.Function == "kafka" {
			if v, ok := st.Config["brokers"]; ok {
				if s, ok := v.V.(string); ok {
					return s
				}
			}
		}
	}
	return ""
}

// fileDLQ appends dead-letter entries to a JSON Lines file and syncs it
// before a write is reported done.
type fileDLQ struct {
	mu sync.Mutex
	f  *os.File
}

func openFileDLQ(path string) (*fileDLQ, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("dead-letter file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("dead-letter file: %w", err)
	}
	return &fileDLQ{f: f}, nil
}

func (d *fileDLQ) Write(_ context.Context, recs []plugin.Record) plugin.Pending {
	d.mu.Lock()
	defer d.mu.Unlock()
	var buf []byte
	for _, r := range recs {
		buf = append(append(buf, r.Value...), '\n')
	}
	if _, err := d.f.Write(buf); err != nil {
		return plugin.Done{Err: err}
	}
	return plugin.Done{Err: d.f.Sync()}
}

func (d *fileDLQ) Durable() bool               { return true }
func (d *fileDLQ) Flush(context.Context) error { return nil }
func (d *fileDLQ) Close() error                { return d.f.Close() }
