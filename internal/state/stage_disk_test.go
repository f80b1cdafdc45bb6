package state

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// idLog is a memLog that names itself and says where each read began.
type idLog struct {
	*memLog
	name, id string
	mu       sync.Mutex
	froms    []int64
}

func (l *idLog) Read(ctx context.Context, p int32, from int64, total func(int64), fn func(Change)) (int64, error) {
	l.mu.Lock()
	l.froms = append(l.froms, from)
	l.mu.Unlock()
	return l.memLog.Read(ctx, p, from, total, fn)
}

func (l *idLog) Name() string                             { return l.name }
func (l *idLog) Identity(context.Context) (string, error) { return l.id, nil }

func newIDLog(id string) *idLog { return &idLog{memLog: &memLog{}, name: "g-w-changelog", id: id} }

func diskStage(t *testing.T, dir string, l Changelog) (*Stage, *observer.ObservedLogs) {
	core, logs := observer.New(zap.InfoLevel)
	s := New("w", counter{}, func(context.Context) (Changelog, error) { return l, nil })
	s.UseDisk(dir, zap.New(core))
	t.Cleanup(func() { s.Close() })
	return s, logs
}

// The stage's behaviour is the same over both stores: a second instance
// (a restart) restores the state the first left, and skips what it
// processed.
func TestStageRestoresOverBothStores(t *testing.T) {
	for _, disk := range []bool{false, true} {
		t.Run(map[bool]string{false: "memory", true: "disk"}[disk], func(t *testing.T) {
			dir, log := t.TempDir(), newIDLog("one")
			open := func() *Stage {
				s := New("w", counter{}, func(context.Context) (Changelog, error) { return log, nil })
				if disk {
					s.UseDisk(dir, zap.NewNop())
				}
				return s
			}
			ctx := context.Background()
			a := open()
			apply(t, a, ctx, batch(0, 0, `{"k":"a","t":1}`, `{"k":"b","t":2}`))
			apply(t, a, ctx, batch(0, 2, `{"k":"a","t":3}`))
			a.Close()
			b := open()
			defer b.Close()
			out := apply(t, b, ctx, batch(0, 2, `{"k":"a","t":3}`, `{"k":"a","t":4}`, `{"k":"a","t":30}`))
			eq(t, "after the restart", out, `{"w":"a|0","n":3}`, `{"w":"b|0","n":1}`)
		})
	}
}

// A disk store reopened reads the changelog only from its checkpoint.
func TestDiskStoreRestoresFromItsCheckpoint(t *testing.T) {
	dir, log := t.TempDir(), newIDLog("one")
	ctx := context.Background()
	a, _ := diskStage(t, dir, log)
	apply(t, a, ctx, batch(0, 0, `{"k":"a","t":1}`, `{"k":"a","t":2}`))
	apply(t, a, ctx, batch(0, 2, `{"k":"b","t":3}`))
	a.Close()
	end := int64(len(log.parts[0]))
	b, logs := diskStage(t, dir, log)
	out := apply(t, b, ctx, batch(0, 3, `{"k":"a","t":5}`, `{"k":"a","t":20}`))
	eq(t, "after the reopening", out, `{"w":"a|0","n":3}`, `{"w":"b|0","n":1}`)
	if got := log.froms; len(got) != 2 || got[0] != 0 || got[1] != end {
		t.Errorf("changelog reads began at %v, want [0 %d] (the second at the checkpoint)", got, end)
	}
	if logs.FilterMessageSnippet("checkpoint").Len() != 1 {
		t.Errorf("no line says the store opened at its checkpoint: %v", logs.All())
	}
}

// A disk store whose checkpoint is past the end of the changelog (the
// changelog was deleted and created again), or which was written from
// another changelog, is wiped and restored from the changelog, and a log
// line says why.
func TestDiskStoreOfAnotherChangelogIsWiped(t *testing.T) {
	for _, tc := range []struct{ name, id, why string }{
		{"checkpoint past the end", "one", "past the end of the changelog"},
		{"another identity", "two", "written from another changelog"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, ctx := t.TempDir(), context.Background()
			a, _ := diskStage(t, dir, newIDLog("one"))
			apply(t, a, ctx, batch(0, 0, `{"k":"a","t":1}`, `{"k":"a","t":2}`, `{"k":"a","t":3}`))
			a.Close()
			// The new changelog holds one change of another key, at
			// offset 0, and nothing of the old ones.
			log := newIDLog(tc.id)
			log.parts = map[int32][]Change{0: {{Key: []byte("uz|0"), Value: []byte("5")}}}
			b, logs := diskStage(t, dir, log)
			out := apply(t, b, ctx, batch(0, 0, `{"k":"z","t":1}`, `{"k":"a","t":50}`))
			eq(t, "after the wipe", out, `{"w":"z|0","n":6}`)
			if n := logs.FilterMessageSnippet(tc.why).Len(); n != 1 {
				t.Errorf("%d lines say %q: %v", n, tc.why, logs.All())
			}
		})
	}
}

// When a partition's claim ends (revoked), its disk store is closed, so
// that the next owner can open it; a new claim opens it again here.
func TestDiskStoreClosedWhenTheClaimEnds(t *testing.T) {
	dir, log := t.TempDir(), newIDLog("one")
	a, _ := diskStage(t, dir, log)
	claim, revoke := context.WithCancel(context.Background())
	apply(t, a, claim, batch(0, 0, `{"k":"a","t":1}`))
	revoke()
	b, _ := diskStage(t, dir, log)
	b.disk.wait = 5 * time.Second // a's release is asynchronous
	apply(t, b, context.Background(), batch(0, 1, `{"k":"a","t":2}`))
	b.Close()
	out := apply(t, a, context.Background(), batch(0, 2, `{"k":"a","t":3}`, `{"k":"a","t":40}`))
	eq(t, "back at a", out, `{"w":"a|0","n":3}`)
}

func TestDiskDirNamesChangelogAndPartition(t *testing.T) {
	if got := DiskDir("/var/lib/conveyor", "g-count-changelog", 3); !strings.HasSuffix(got, "/var/lib/conveyor/g-count-changelog/3") {
		t.Errorf("DiskDir: %s", got)
	}
}

// txnLog is a changelog whose writes join a transaction.
type txnLog struct{ *idLog }

func (txnLog) Transactional() bool { return true }

// Under exactly-once the disk store is not used (a write that returned may
// still abort): the state stays in memory, and a warning says so.
func TestDiskStoreNotUsedWithATransactionalChangelog(t *testing.T) {
	dir := t.TempDir()
	s, logs := diskStage(t, dir, txnLog{newIDLog("one")})
	out := apply(t, s, context.Background(), batch(0, 0, `{"k":"a","t":1}`, `{"k":"a","t":20}`))
	eq(t, "in memory", out, `{"w":"a|0","n":1}`)
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a disk store was made: %v", entries)
	}
	if logs.FilterMessageSnippet("not used under exactly-once").Len() != 1 {
		t.Errorf("no warning: %v", logs.All())
	}
}
