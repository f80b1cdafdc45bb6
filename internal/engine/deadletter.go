package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"
	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/plugin"
)

// dlqTopicRecordLimit caps the record kept in an entry on a dead-letter
// topic: JSON escaping can grow text up to six times, and the entry must fit
// Kafka's default 1 MB message limit even when the record itself did not.
const dlqTopicRecordLimit = 128 << 10

// buildDeadLetter makes the dead-letter sink of [error_handling], if any: a
// JSON Lines file, or a Kafka topic through the sink Compile checked.
// A relative path is relative to the pipeline file's directory.
func (r *run) buildDeadLetter(ctx context.Context) (*sinkStage, error) {
	dl := r.plan.Pipeline.ErrorHandling.DeadLetterQueue
	st := &config.Stage{ID: dlqTable, Function: "dead-letter queue"}
	switch {
	case dl == nil:
		return nil, nil
	case dl.Path != "":
		s, err := openFileDLQ(r.plan.Pipeline.ResolvePath(dl.Path))
		if err != nil {
			return nil, err
		}
		return &sinkStage{st: st, sink: s}, nil
	}
	n := r.plan.deadLetter
	s, err := n.spec.Sink.Build(ctx, n.cfg, plugin.Env{Stage: n.st, Dir: r.dir(), Metrics: r.obs.Registerer(n.st.ID), Logger: r.log.With(zap.String("stage", n.st.ID)),
		RunID: r.id, Delivery: r.plan.Pipeline.Pipeline.Delivery, Name: r.plan.Pipeline.Pipeline.Name})
	if err != nil {
		return nil, err
	}
	return &sinkStage{st: n.st, sink: s}, nil
}

// dlqTable is the dead-letter table's place in the file, for errors.
const dlqTable = "error_handling.dead_letter_queue"

// compileDeadLetter checks a dead-letter topic's keys as a kafka sink's,
// with the connection keys it inherits (see config.DeadLetter). It returns
// nil when there is no dead-letter topic. broken holds the stages that did
// not compile: inheriting from one would only repeat its errors.
func compileDeadLetter(p *config.Pipeline, reg *plugin.Registry, broken map[*config.Stage]bool) (*node, error) {
	dl := p.ErrorHandling.DeadLetterQueue
	if dl == nil || dl.Config == nil { // none, a file, or a table config reported
		return nil, nil
	}
	spec, ok := reg.Lookup("kafka")
	if !ok || spec.Sink == nil {
		return nil, dlqError(dl.Pos, "topic", "a dead-letter topic needs the kafka function, which this registry lacks (path = \"...\" writes a file instead)")
	}
	keys := map[string]config.Value{}
	var from *config.Stage // the stage it inherits from, if any
	if _, own := dl.Config["brokers"]; !own {
		if from = clusterStage(p); from == nil {
			return nil, dlqError(dl.Pos, "brokers", "missing: the pipeline has no kafka stage to take the cluster from")
		}
		if broken[from] {
			return nil, nil
		}
		for _, k := range connectionKeys(spec) {
			if v, ok := from.Config[k]; ok {
				keys[k] = v
			}
		}
	}
	maps.Copy(keys, dl.Config)
	st := &config.Stage{Index: -1, ID: "dead_letter_queue", Function: spec.Name, Pos: dl.Pos, Config: keys}
	cfg, err := plugin.DecodeConfig(spec.Sink, st)
	if err != nil {
		return nil, inDeadLetterTable(err, spec, from)
	}
	return &node{st: st, spec: spec, role: plugin.RoleSink, cfg: cfg}, nil
}

// clusterStage is the stage whose cluster a dead-letter topic without
// brokers is on: the first kafka sink, else the first kafka source.
func clusterStage(p *config.Pipeline) *config.Stage {
	var source *config.Stage
	for i := range p.Stages {
		st := &p.Stages[i]
		switch {
		case st.Function != "kafka":
		case len(st.Inputs) > 0:
			return st
		case source == nil:
			source = st
		}
	}
	return source
}

// connectionKeys are the keys that a function's source and sink both take,
// but those that say what the data is: how it reaches its system (for
// kafka: brokers, client_id, delivery, dial_timeout_ms, security_protocol,
// sasl_* and tls_*).
func connectionKeys(spec *plugin.Spec) []string {
	if spec.Source == nil || spec.Sink == nil {
		return nil
	}
	sink := map[string]bool{}
	for _, k := range config.Describe(spec.Sink.Config()) {
		sink[k.Key] = true
	}
	var out []string
	for _, k := range config.Describe(spec.Source.Config()) {
		if sink[k.Key] && !dataKey(k.Key) {
			out = append(out, k.Key)
		}
	}
	return out
}

// dataKey reports the keys of both kafka roles that say where records go
// and how they are encoded (topic, value_format, key_format, the schema
// registry's), which a dead-letter topic does not inherit: it writes JSON
// entries of its own, and a JSON sink refuses the registry keys.
func dataKey(key string) bool {
	return key == "topic" || key == "value_format" || key == "key_format" || strings.HasPrefix(key, "schema_registry")
}

// inDeadLetterTable renames the keys of a decoding error ("config.x") to
// where they are written ("error_handling.dead_letter_queue.x"). When the
// table inherited from a stage, an error about a connection key says so:
// the conflict may be with a key the user did not write there.
func inDeadLetterTable(err error, spec *plugin.Spec, from *config.Stage) error {
	var es config.Errors
	if !errors.As(err, &es) {
		return err
	}
	var inherited []string
	if from != nil {
		inherited = connectionKeys(spec)
	}
	for _, e := range es {
		key := strings.TrimPrefix(e.Key, "config")
		e.Key = dlqTable + key
		if slices.Contains(inherited, strings.TrimPrefix(key, ".")) {
			e.Msg += fmt.Sprintf(" (the dead-letter queue takes the connection keys of stage %q unless it sets brokers itself)", from.ID)
		}
	}
	return err
}

func dlqError(pos config.Pos, key, msg string) error {
	return &config.Error{Pos: pos, Stage: -1, Key: dlqTable + "." + key, Msg: msg}
}

// fileDLQ appends dead-letter entries to a JSON Lines file and syncs it
// before a write is reported done. The file holds records' payloads, so a
// new one is readable by its owner only (0600).
type fileDLQ struct {
	mu sync.Mutex
	f  *os.File
}

func openFileDLQ(path string) (*fileDLQ, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("dead-letter file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("dead-letter file: %w", err)
	}
	return &fileDLQ{f: f}, nil
}

// Publish appends the records of msgs and syncs the file.
func (d *fileDLQ) Publish(_ string, msgs ...*message.Message) error {
	return plugin.PublishBySend(d, msgs)
}

// Send appends recs and syncs the file before it returns.
func (d *fileDLQ) Send(_ context.Context, recs []plugin.Record) plugin.Pending {
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

func (d *fileDLQ) Close() error { return d.f.Close() }
