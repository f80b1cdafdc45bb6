package kafka

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/internal/kafkatest"
	"github.com/conveyor-etl/conveyor/internal/kafkautil"
	"github.com/conveyor-etl/conveyor/internal/state"
	"github.com/conveyor-etl/conveyor/plugin"
)

// The restore of a large state into the disk store, run on demand beside
// TestRestoreManyKeys (the memory store's):
//
//	CONVEYOR_RESTORE_KEYS=1000000 go test -run TestRestoreManyKeys -v ./connectors/kafka
//
// It writes that many keys to one changelog partition, restores them into
// a disk store from nothing, then writes 1% more keys and restores again
// from the store's checkpoint (a restart), checking every key came back
// both times; it logs the times, the changes each restore read, the heap
// held per key and the bytes on disk.
func TestRestoreManyKeysOnDisk(t *testing.T) {
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
	dir := t.TempDir()
	restore := func(what string, want int) {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		st := state.New("big", nopProcessor{}, func(ctx context.Context) (state.Changelog, error) { return src.Changelog(ctx, "big") })
		st.UseDisk(dir, zap.NewNop())
		start, cpu0 := time.Now(), cpuTime()
		if _, err := st.Apply(ctx, plugin.Batch{Origin: src.cfg.Topic, Partition: 0}, nil); err != nil {
			t.Fatal(err)
		}
		took, cpu := time.Since(start), cpuTime()-cpu0
		runtime.GC()
		runtime.ReadMemStats(&after)
		read := st.Progress().Restored
		if keys := st.Keys() - 1; keys != want { // less the watermark mark
			t.Fatalf("%s: %d keys, want %d", what, keys, want)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("disk store, %s: %d keys in %s, %.2f s of CPU (user+sys of the process), %d changes read from the changelog; heap %d bytes per key; %d bytes on disk",
			what, want, took.Round(time.Millisecond), cpu.Seconds(), read, (int64(after.HeapAlloc)-int64(before.HeapAlloc))/int64(want), du(dir))
	}
	restore("from nothing", n)
	more := n / 100
	writeManyKeys(t, cl, n, n+more)
	cl.Close()
	restore("from its checkpoint", n+more)
}

// du sums the sizes of the files under dir.
func du(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// A changelog's identity names its topic, and changes when the topic is
// deleted and created again (its topic id), which makes a disk store
// written from the old one be wiped.
func TestChangelogIdentityChangesWhenRecreated(t *testing.T) {
	env := kafkatest.Start(t)
	src := changelogSource(t, env, 1)
	ctx := context.Background()
	identity := func() (string, string) {
		t.Helper()
		cl, err := src.Changelog(ctx, "count")
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		id, err := cl.(state.Identified).Identity(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return cl.(state.Identified).Name(), id
	}
	name, first := identity()
	if name != ChangelogTopic(src.cfg.GroupID, "count") || !strings.Contains(first, name) {
		t.Fatalf("name %q, identity %q", name, first)
	}
	if _, again := identity(); again != first {
		t.Errorf("the same topic has another identity: %q, then %q", first, again)
	}
	admin, err := sarama.NewClusterAdmin(env.Brokers, kafkautil.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.DeleteTopic(name); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, recreated := identity()
		if recreated != first {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the recreated changelog has the old identity %q", first)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
