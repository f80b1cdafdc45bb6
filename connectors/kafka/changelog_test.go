package kafka

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/kafkatest"
	"github.com/conveyor-etl/conveyor/internal/state"
	"github.com/conveyor-etl/conveyor/plugin"
)

// changelogSource is a source of a fresh group on a fresh topic of n
// partitions (never subscribed: only its changelog is used).
func changelogSource(t *testing.T, env kafkatest.Env, n int32) *Source {
	t.Helper()
	topic := kafkatest.Name("in")
	env.CreateTopic(t, topic, n)
	cfg := DefaultSourceConfig()
	cfg.Brokers, cfg.Topic, cfg.GroupID = env.Brokers, topic, kafkatest.Name("g")
	src, err := NewSource(cfg, plugin.Env{Stage: &config.Stage{ID: "consume"}, Logger: zap.NewNop(), DurableOnAck: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// The changelog is created compacted with one partition per input
// partition; what is written is read back (a nil value deletes), from any
// offset; a topic with the wrong partitions or not compacted is refused,
// saying why.
func TestChangelogCreatedWrittenReadAndChecked(t *testing.T) {
	env := kafkatest.Start(t)
	src := changelogSource(t, env, 3)
	ctx := context.Background()
	cl, err := src.Changelog(ctx, "count")
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if got := len(env.EndOffsets(t, ChangelogTopic(src.cfg.GroupID, "count"))); got != 3 {
		t.Fatalf("changelog has %d partitions, want 3", got)
	}
	next, err := cl.Write(ctx, 2, []state.Change{{Key: []byte("a"), Value: []byte("1")}, {Key: []byte("b"), Value: []byte("2")}})
	if err != nil || next != 2 {
		t.Fatalf("write: next %d, %v", next, err)
	}
	if _, err := cl.Write(ctx, 2, []state.Change{{Key: []byte("a")}}); err != nil {
		t.Fatal(err)
	}
	read := func(from int64) string {
		var got []string
		end, err := cl.Read(ctx, 2, from, func(int64) {}, func(c state.Change) {
			got = append(got, fmt.Sprintf("%s=%v", c.Key, c.Value))
		})
		if err != nil || end != 3 {
			t.Fatalf("read: end %d, %v", end, err)
		}
		return strings.Join(got, " ")
	}
	if got, want := read(0), "a=[49] b=[50] a=[]"; got != want {
		t.Errorf("read from 0: %s, want %s", got, want)
	}
	if got, want := read(2), "a=[]"; got != want {
		t.Errorf("read from 2: %s, want %s", got, want)
	}
	// Open again: the topic is there and right.
	again, err := src.Changelog(ctx, "count")
	if err != nil {
		t.Fatalf("reopening: %v", err)
	}
	again.Close()

	wrong := ChangelogTopic(src.cfg.GroupID, "wrong")
	env.CreateTopic(t, wrong, 2, "cleanup.policy", "compact")
	if _, err := src.Changelog(ctx, "wrong"); err == nil || !strings.Contains(err.Error(), "has 2 partitions, the input topic 3") {
		t.Errorf("a changelog with 2 partitions for 3: %v", err)
	}
	deleting := ChangelogTopic(src.cfg.GroupID, "deleting")
	env.CreateTopic(t, deleting, 3, "cleanup.policy", "delete")
	if _, err := src.Changelog(ctx, "deleting"); err == nil || !strings.Contains(err.Error(), "cleanup.policy=delete") {
		t.Errorf("a changelog with cleanup.policy=delete: %v", err)
	}
}

// The restore of a large state, run on demand:
//
//	CONVEYOR_RESTORE_KEYS=1000000 go test -run TestRestoreManyKeys -v ./connectors/kafka
//
// It writes that many keys (24-byte keys, 16-byte values, as a window
// aggregate's) to one changelog partition, restores them into a stage's
// memory store, checks every key came back, and logs the time the restore
// took and the heap it holds per key.
func TestRestoreManyKeys(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("CONVEYOR_RESTORE_KEYS"))
	if n <= 0 {
		t.Skip("set CONVEYOR_RESTORE_KEYS to the number of keys to restore (a measurement, not run by default)")
	}
	env := kafkatest.Start(t)
	src := changelogSource(t, env, 1)
	ctx := context.Background()
	cl, err := src.Changelog(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	writeManyKeys(t, cl, 0, n)
	cl.Close()

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	st := state.New("big", nopProcessor{}, func(ctx context.Context) (state.Changelog, error) { return src.Changelog(ctx, "big") })
	defer st.Close()
	start, cpu0 := time.Now(), cpuTime()
	if _, err := st.Apply(ctx, plugin.Batch{Origin: src.cfg.Topic, Partition: 0}, nil); err != nil {
		t.Fatal(err)
	}
	took, cpu := time.Since(start), cpuTime()-cpu0
	runtime.GC()
	runtime.ReadMemStats(&after)
	keys := st.Keys() - 1 // less the watermark mark
	if keys != n {
		t.Fatalf("restored %d keys, want %d", keys, n)
	}
	t.Logf("restored %d keys in %s (%.0f keys/s), %.2f s of CPU (user+sys of the process: the client's, with KAFKA_BROKERS set), %.2f s per 1,000,000 keys; heap %d bytes per key (keys of 25 bytes, values of 16)",
		n, took.Round(time.Millisecond), float64(n)/took.Seconds(), cpu.Seconds(), cpu.Seconds()*1e6/float64(n), (int64(after.HeapAlloc)-int64(before.HeapAlloc))/int64(n))
	runtime.KeepAlive(st)
}

// cpuTime is the process's CPU time so far, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// writeManyKeys writes keys [from, to) to partition 0 of cl, in writes
// of 10,000: keys of 25 bytes, values of 16.
func writeManyKeys(t *testing.T, cl state.Changelog, from, to int) {
	t.Helper()
	const chunk = 10_000
	start := time.Now()
	for i := from; i < to; i += chunk {
		cs := make([]state.Change, 0, chunk)
		for j := i; j < min(i+chunk, to); j++ {
			cs = append(cs, state.Change{Key: fmt.Appendf(nil, "u%015d|%08d", j, j%1000), Value: fmt.Appendf(nil, "%016d", j)})
		}
		if _, err := cl.Write(context.Background(), 0, cs); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("wrote %d keys in %s", to-from, time.Since(start))
}

type nopProcessor struct{}

func (nopProcessor) EventTime(plugin.Record) (int64, error)    { return 0, nil }
func (nopProcessor) Process(plugin.State, plugin.Record) error { return nil }
func (nopProcessor) OnTimer(plugin.State, int64, []byte) error { return nil }

// A write cut short by a crash (2 of its 3 changes in the log) is dropped
// when it is the last thing in the partition; followed by other writes
// (the next owner's), it is applied with them.
func TestChangelogDropsAWriteCutShortAtTheEnd(t *testing.T) {
	env := kafkatest.Start(t)
	src := changelogSource(t, env, 1)
	ctx := context.Background()
	st, err := src.Changelog(ctx, "count")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cl := st.(*changelog)
	if _, err := cl.Write(ctx, 0, []state.Change{{Key: []byte("a"), Value: []byte("1")}}); err != nil {
		t.Fatal(err)
	}
	hdrs := []sarama.RecordHeader{{Key: []byte(headerWrite), Value: []byte("12345678")}, {Key: []byte(headerSize), Value: binary.AppendUvarint(nil, 3)}}
	for _, k := range []string{"a", "b"} {
		if _, _, err := cl.prod.SendMessage(&sarama.ProducerMessage{Topic: cl.topic, Partition: 0, Key: sarama.StringEncoder(k), Value: sarama.StringEncoder("cut"), Headers: hdrs}); err != nil {
			t.Fatal(err)
		}
	}
	read := func() string {
		var got []string
		if _, err := cl.Read(ctx, 0, 0, func(int64) {}, func(c state.Change) { got = append(got, string(c.Key)+"="+string(c.Value)) }); err != nil {
			t.Fatal(err)
		}
		return strings.Join(got, " ")
	}
	if got, want := read(), "a=1"; got != want {
		t.Errorf("with the cut write last: %s, want %s", got, want)
	}
	if _, err := cl.Write(ctx, 0, []state.Change{{Key: []byte("b"), Value: []byte("2")}}); err != nil {
		t.Fatal(err)
	}
	if got, want := read(), "a=1 a=cut b=cut b=2"; got != want {
		t.Errorf("with a write after the cut one: %s, want %s", got, want)
	}
}
