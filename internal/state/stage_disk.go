package state

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
)

// diskOptions are a stage's disk store settings: off without a state_dir.
type diskOptions struct {
	dir  string
	wait time.Duration // for a store another instance holds (see openDisk)
	log  *zap.Logger

	warnTxn *sync.Once
}

func (o diskOptions) on() bool { return o.dir != "" }

// Identified is a Changelog that can name itself: a disk store lives
// under its Name (see DiskDir), and keeps its Identity, the changelog
// incarnation it was written from (for Kafka: the cluster and topic ids).
// A store of another identity is wiped and restored from the changelog.
type Identified interface {
	Name() string
	Identity(ctx context.Context) (string, error)
}

// UseDisk makes the stage keep each partition's store on disk, under
// stateDir (see DiskDir), when it has a changelog; without one (no Kafka
// source above) the state stays in memory. log says when a store is wiped.
// Call it before the first Apply.
func (s *Stage) UseDisk(stateDir string, log *zap.Logger) {
	s.disk = diskOptions{dir: stateDir, wait: 30 * time.Second, log: log, warnTxn: new(sync.Once)}
}

// diskFor reports whether the stage's partitions get disk stores: with a
// state_dir, unless the changelog's writes join a transaction (exactly-once:
// a write that returned may still abort, and the disk store would hold what
// the changelog does not; its checkpoint must wait for the commit, which
// is not wired yet), then the state stays in memory, and a warning says so.
func (s *Stage) diskFor() bool {
	if !s.disk.on() {
		return false
	}
	if t, ok := s.cl.(interface{ Transactional() bool }); ok && t.Transactional() {
		s.disk.warnTxn.Do(func() {
			s.disk.log.Warn("state_dir is not used under exactly-once yet: the state stays in memory, restored from the changelog", zap.String("stage", s.id))
		})
		return false
	}
	return true
}

// openDisk replaces p's memory store with its disk store, taking the
// timers and marks it holds and its checkpoint as the changelog offset to
// restore from.
func (s *Stage) openDisk(p *partition) error {
	name, identity := s.id, ""
	if id, ok := s.cl.(Identified); ok {
		name = id.Name()
		var err error
		if identity, err = id.Identity(p.claim); err != nil {
			return fmt.Errorf("changelog %s: %w", name, err)
		}
	}
	ds, err := openDisk(DiskDir(s.disk.dir, name, p.id), s.disk.wait)
	if err != nil {
		return err
	}
	cp, was, err := ds.checkpoint()
	if err == nil && was != identity {
		if was != "" {
			s.disk.log.Warn("the disk store was written from another changelog (deleted and created again, or another cluster): wiping it and restoring from the changelog",
				zap.String("stage", s.id), zap.Int32("partition", p.id), zap.String("dir", ds.dir), zap.String("store_changelog", was), zap.String("changelog", identity))
		}
		cp, err = 0, ds.wipe(identity)
	}
	if err != nil {
		ds.close()
		return fmt.Errorf("disk store %s: %w", ds.dir, err)
	}
	p.store, p.clEnd = ds, cp
	p.loadFrom(ds)
	if cp > 0 {
		s.disk.log.Info("opened the disk store at its checkpoint", zap.String("stage", s.id), zap.Int32("partition", p.id), zap.String("dir", ds.dir), zap.Int64("checkpoint", cp))
	}
	return nil
}

// wipe empties p's disk store and forgets what p took from it.
func (s *Stage) wipe(p *partition) error {
	ds := p.store.(*diskStore)
	_, identity, err := ds.checkpoint()
	if err == nil {
		err = ds.wipe(identity)
	}
	if err != nil {
		return fmt.Errorf("disk store %s: %w", ds.dir, err)
	}
	fresh := newPartition(p.id)
	p.timers, p.wm, p.next, p.clEnd = nil, fresh.wm, fresh.next, 0
	return nil
}

// claimed notes that p's batches now come with ctx, the context of the
// partition's claim. A disk store is closed when its claim ends (the
// partition was revoked, or the run stopped), once the changes of its
// batches are written or abandoned.
func (s *Stage) claimed(p *partition, ctx context.Context) {
	if p.claim == ctx {
		return
	}
	p.claim = ctx
	if !s.disk.on() || ctx.Done() == nil {
		return
	}
	context.AfterFunc(ctx, func() { s.release(p, ctx) })
}

// release closes p's disk store after its claim ctx ended, unless a batch
// of a new claim came first (then partition did).
func (s *Stage) release(p *partition, ctx context.Context) {
	s.mu.Lock()
	l := s.locks[p.id]
	s.mu.Unlock()
	l.Lock()
	tail := p.tail
	l.Unlock()
	select {
	case <-tail:
	case <-time.After(time.Minute): // left to the partition's next batch
		return
	}
	l.Lock()
	defer l.Unlock()
	s.mu.Lock()
	current := s.parts[p.id] == p && p.claim == ctx
	if current {
		delete(s.parts, p.id)
	}
	s.mu.Unlock()
	if !current {
		return
	}
	if err := p.store.close(); err != nil {
		s.disk.log.Warn("closing a disk store", zap.String("stage", s.id), zap.Int32("partition", p.id), zap.Error(err))
	}
}
