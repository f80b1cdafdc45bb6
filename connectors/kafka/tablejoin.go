package kafka

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/internal/expr"
	"github.com/conveyor-etl/conveyor/internal/record"
	"github.com/conveyor-etl/conveyor/plugin"
)

// TableJoinSpec is the "table.join" function.
func TableJoinSpec() *plugin.Spec {
	return &plugin.Spec{
		Name:    "table.join",
		Plugin:  "kafka",
		Summary: "enrich each record with the row of a table kept in a compacted Kafka topic",
		Doc: `The table is read from its oldest offset up to the end offset it has at start before
  any record is joined (scope = "partitioned": a table partition before the first record of the
  stream partition with its number), then followed: updates apply as they arrive, a tombstone
  deletes its row. The rows are held in memory; a table partition, once read, is followed until the
  run ends.
`,
		Operator: plugin.NewFactory(DefaultTableJoinConfig, func(ctx context.Context, c *TableJoinConfig, env plugin.Env) (plugin.Operator, error) {
			c.client().logWarnings(env.Logger)
			return openTableJoin(ctx, c, env) // the runtime calls Load
		}),
		Check: checkTableJoin,
	}
}

// TableJoin is the table.join operator. Apply is safe for concurrent use;
// it blocks while the table (partitioned scope: the table partition it
// needs) is loading. It is a plugin.Loader: Load reads the whole table
// (global scope), and Loading says how far a load has got. Close
// stops following the table.
type TableJoin struct {
	cfg     *TableJoinConfig
	stage   string
	key     *expr.Program
	field   record.KeyPath // key is a plain field: read as key_field reads it, without allocating
	isField bool
	table   *table
	part    record.Path // _kafka_partition
	omit    func(name string, value []byte) bool
	names   [][]byte      // the members it sets, as `"name":`
	fields  []record.Path // with fields: where each is in a row
	murmur  sarama.Partitioner
	log     *zap.Logger
	loaded  atomic.Bool // global scope: every table partition is loaded
	ctx     context.Context
	stop    context.CancelFunc
	joined  atomic.Int64
	missed  atomic.Int64
	dropped atomic.Int64
}

// NewTableJoin connects to the table's brokers and, with global scope,
// reads the whole table up to its end offsets before it returns.
func NewTableJoin(ctx context.Context, c *TableJoinConfig, env plugin.Env) (*TableJoin, error) {
	j, err := openTableJoin(ctx, c, env)
	if err != nil {
		return nil, err
	}
	if err := j.Load(ctx); err != nil {
		j.Close()
		return nil, err
	}
	return j, nil
}

// openTableJoin connects to the table's brokers and checks its topics,
// without reading the table.
func openTableJoin(ctx context.Context, c *TableJoinConfig, env plugin.Env) (*TableJoin, error) {
	j, err := newTableJoin(c, env.Stage.ID)
	if err != nil {
		return nil, err
	}
	j.log = env.Logger.With(zap.String("table_topic", c.TableTopic))
	if err := j.open(ctx, j.log); err != nil {
		j.stop()
		return nil, err
	}
	return j, nil
}

// NewTableJoinFromRows is a table.join whose table is rows (key to JSON
// value, a nil value for no row), placed on partitions partitions by
// Java's murmur2 as a producer keying by the row's key would: the table of
// `conveyor test`, which reads no Kafka. Its table is loaded and never
// updated.
func NewTableJoinFromRows(c *TableJoinConfig, stage string, partitions int, rows []TableRow) (*TableJoin, error) {
	j, err := newTableJoin(c, stage)
	if err != nil {
		return nil, err
	}
	j.log = zap.NewNop()
	j.murmur = sarama.NewMurmur2Partitioner(c.TableTopic)
	j.table = memoryTable(c.TableTopic, partitions, c.Scope != ScopePartitioned)
	for _, r := range rows {
		p, err := j.murmur.Partition(&sarama.ProducerMessage{Key: sarama.ByteEncoder(r.Key)}, int32(partitions))
		if err != nil {
			return nil, err
		}
		j.table.apply(j.table.parts[p].store, &sarama.ConsumerMessage{Key: r.Key, Value: r.Value})
	}
	j.loaded.Store(true)
	return j, nil
}

// TableRow is one message of a table topic: a tombstone when Value is nil.
type TableRow struct {
	Key, Value []byte
}

// Load reads the whole table up to the end offsets it has now (global
// scope), within load_timeout_ms; with partitioned scope each partition
// loads on its stream partition's first record instead, and Load does
// nothing. It may be called more than once, from any goroutine.
func (j *TableJoin) Load(ctx context.Context) error {
	if j.cfg.Scope == ScopePartitioned || j.loaded.Load() {
		return nil
	}
	started := time.Now()
	ctx, cancel := context.WithTimeout(ctx, j.cfg.LoadTimeout)
	defer cancel()
	for p := range int32(len(j.table.parts)) {
		j.table.start(p) // all at once
	}
	for p := range int32(len(j.table.parts)) {
		if err := j.table.load(ctx, p, j.cfg.LoadTimeout); err != nil {
			return j.loadError(err)
		}
	}
	if j.loaded.CompareAndSwap(false, true) {
		j.log.Info("table loaded", zap.Int64("rows", j.table.rows.Load()), zap.Int("partitions", len(j.table.parts)), zap.Duration("took", time.Since(started)))
	}
	return nil
}

// Loading implements plugin.Loader.
func (j *TableJoin) Loading() plugin.Loading { return j.table.progress() }

// newTableJoin prepares the join, without its table.
func newTableJoin(c *TableJoinConfig, stage string) (*TableJoin, error) {
	key, err := expr.Compile(c.Key)
	if err != nil {
		return nil, err
	}
	j := &TableJoin{cfg: c, stage: stage, key: key, part: record.CompilePath(record.PartitionField)}
	if fs := key.Fields(); len(fs) == 1 && fs[0] == strings.TrimSpace(c.Key) {
		j.field, j.isField = record.CompileKeyPath(fs[0]), true
	}
	j.ctx, j.stop = context.WithCancel(context.Background())
	names := c.Fields
	if c.Into != "" {
		names = []string{c.Into}
	} else {
		for _, f := range c.Fields {
			j.fields = append(j.fields, record.CompilePath(f))
		}
	}
	for _, n := range names {
		j.names = append(j.names, append(record.AppendString(nil, n), ':'))
	}
	j.omit = func(name string, _ []byte) bool { return slices.Contains(names, name) }
	return j, nil
}

func (j *TableJoin) open(ctx context.Context, log *zap.Logger) error {
	c := j.cfg
	sc, err := c.client().saramaConfig()
	if err != nil {
		return err
	}
	sc.Consumer.Return.Errors = true
	sc.Consumer.MaxWaitTime = 100 * time.Millisecond
	client, err := sarama.NewClient(c.Brokers, sc)
	if err != nil {
		return reachError("table.join", j.stage, c.client(), err)
	}
	parts, err := j.partitions(ctx, client, log)
	if err != nil {
		client.Close()
		return err
	}
	makePatient(client)
	j.murmur = sarama.NewMurmur2Partitioner(c.TableTopic)
	if j.table, err = newTable(client, c.TableTopic, parts, c.Scope != ScopePartitioned, log); err != nil {
		client.Close()
		return err
	}
	return nil
}

// partitions checks the table topic (and, partitioned, the stream's) and
// returns its partition count.
func (j *TableJoin) partitions(ctx context.Context, client sarama.Client, log *zap.Logger) (int, error) {
	c := j.cfg
	if err := awaitTopic(ctx, client, c.TableTopic, 0, log); err != nil {
		return 0, topicError("table.join", j.stage, c.TableTopic, c.Brokers, "create it (compacted: cleanup.policy=compact) and fill it with the table's rows keyed by the table key", err)
	}
	parts, err := client.Partitions(c.TableTopic)
	if err != nil {
		return 0, topicError("table.join", j.stage, c.TableTopic, c.Brokers, "", err)
	}
	if c.Scope != ScopePartitioned {
		return len(parts), nil
	}
	if err := awaitTopic(ctx, client, c.streamTopic, 0, log); err != nil {
		return 0, topicError("table.join", j.stage, c.streamTopic, c.Brokers, "scope = \"partitioned\" needs the stream's topic on the table's brokers", err)
	}
	stream, err := client.Partitions(c.streamTopic)
	if err != nil {
		return 0, topicError("table.join", j.stage, c.streamTopic, c.Brokers, "", err)
	}
	if len(stream) != len(parts) {
		return 0, plugin.Permanent(fmt.Errorf("%s: scope = \"partitioned\": table topic %q has %d partitions, the stream's topic %q %d: they are not co-partitioned (use scope = \"global\", or give both topics the same partitions, keyed by the join key)",
			who("table.join", j.stage), c.TableTopic, len(parts), c.streamTopic, len(stream)))
	}
	return len(parts), nil
}

func (j *TableJoin) loadError(err error) error {
	return fmt.Errorf("%s: %w", who("table.join", j.stage), err)
}

// Apply joins each record with its row. A record that is not a JSON
// object, or (partitioned) that lacks _kafka_partition or whose key
// belongs to another partition, fails alone.
func (j *TableJoin) Apply(in, out []plugin.Record, fail func(int, error)) []plugin.Record {
	type span struct{ i, start, end int }
	n := 0
	for i := range in {
		n += len(in[i].Value) + 64
	}
	buf := make([]byte, 0, n) // one allocation for the batch's records
	spans := make([]span, 0, len(in))
	var joined, missed, dropped int64
	for i, r := range in {
		row, found, err := j.lookup(r.Value)
		if err != nil {
			fail(i, err)
			continue
		}
		if !found {
			missed++
			if j.cfg.Mode == ModeInner {
				dropped++
				continue
			}
		} else {
			joined++
		}
		start := len(buf)
		if buf, err = j.appendJoined(buf, r.Value, row, found); err != nil {
			buf = buf[:start]
			fail(i, err)
			continue
		}
		spans = append(spans, span{len(out), start, len(buf)})
		out = append(out, plugin.Record{Offset: r.Offset})
	}
	for _, s := range spans {
		out[s.i].Value = buf[s.start:s.end:s.end]
	}
	j.joined.Add(joined)
	j.missed.Add(missed)
	j.dropped.Add(dropped)
	return out
}

// errNotObject fails a record that is not a JSON object: it has no place
// for the row.
var errNotObject = plugin.Permanent(errors.New("table.join: the record is not a JSON object"))

// tableKey is rec's table key; the bytes may be rec's own.
func (j *TableJoin) tableKey(rec []byte) ([]byte, bool) {
	if j.isField {
		return j.field.KeyIn(rec)
	}
	v, _, _ := j.key.Eval(rec)
	key, ok := v.Text()
	return []byte(key), ok
}

// lookup finds rec's row.
func (j *TableJoin) lookup(rec []byte) (row []byte, found bool, err error) {
	key, ok := j.tableKey(rec)
	if j.cfg.Scope != ScopePartitioned {
		if !j.loaded.Load() { // a runtime that did not call Load
			if err := j.Load(j.ctx); err != nil {
				return nil, false, err // not permanent: the run stops or retries
			}
		}
		if !ok {
			return nil, false, nil
		}
		row, found = j.table.parts[0].store.get(key)
		return row, found, nil
	}
	pr := j.part.Peek(rec)
	p := int32(pr.Int())
	if !pr.Exists() || p < 0 || int(p) >= len(j.table.parts) {
		return nil, false, plugin.Permanent(fmt.Errorf("table.join: scope = \"partitioned\": the record's %s (%s) is not a partition of table topic %q", record.PartitionField, pr.Raw, j.cfg.TableTopic))
	}
	if err := j.table.load(j.ctx, p, j.cfg.LoadTimeout); err != nil {
		return nil, false, j.loadError(err) // not permanent: the run stops or retries
	}
	if !ok {
		return nil, false, nil
	}
	if kp, _ := j.murmur.Partition(&sarama.ProducerMessage{Key: sarama.ByteEncoder(key)}, int32(len(j.table.parts))); kp != p {
		return nil, false, plugin.Permanent(fmt.Errorf("table.join: scope = \"partitioned\": key %q belongs to partition %d of table topic %q, the record is in partition %d: the stream is not keyed by the join key (use scope = \"global\")", key, kp, j.cfg.TableTopic, p))
	}
	row, found = j.table.parts[p].store.get(key)
	return row, found, nil
}

// appendJoined appends rec with the row's members set (null without a
// row), replacing members of the same names.
func (j *TableJoin) appendJoined(dst, rec, row []byte, found bool) ([]byte, error) {
	rec = bytes.TrimSpace(rec)
	if len(rec) < 2 || rec[0] != '{' || rec[len(rec)-1] != '}' {
		return dst, errNotObject
	}
	start := len(dst)
	dst, omitted := record.AppendWithout(dst, rec, j.omit)
	if !omitted {
		dst = append(dst[:start], rec...)
	}
	dst = dst[:len(dst)-1] // reopen the object
	for k, name := range j.names {
		if dst[len(dst)-1] != '{' {
			dst = append(dst, ',')
		}
		dst = append(dst, name...)
		v, ok := row, found
		if found && j.fields != nil {
			v, ok = j.fields[k].Raw(row)
		}
		if !ok {
			v = []byte("null")
		}
		dst = append(dst, v...)
	}
	return append(dst, '}'), nil
}

// Report logs what the join did.
func (j *TableJoin) Report(log *zap.Logger, final bool) {
	if !final {
		return
	}
	log.Info("table.join", zap.Int64("joined", j.joined.Load()), zap.Int64("without_row", j.missed.Load()),
		zap.Int64("dropped", j.dropped.Load()), zap.Int64("table_rows", j.table.rows.Load()), zap.Int64("table_updates", j.table.updates.Load()))
}

// TableJoinStats are a join's counts.
type TableJoinStats struct {
	Joined, WithoutRow, Dropped, Rows, Updates int64
}

// Stats returns the join's counts so far.
func (j *TableJoin) Stats() TableJoinStats {
	return TableJoinStats{Joined: j.joined.Load(), WithoutRow: j.missed.Load(), Dropped: j.dropped.Load(),
		Rows: j.table.rows.Load(), Updates: j.table.updates.Load()}
}

// Close stops following the table.
func (j *TableJoin) Close() error {
	j.stop()
	return j.table.close()
}
