package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
)

// diskStore is the disk store of one partition: a Pebble database in its
// own directory (DiskDir), holding what the changelog held up to its
// checkpoint, an offset written in the same Pebble batch as the changes
// it covers. Changes of batches whose changelog write is not done yet live
// in an overlay in memory, read before the database: the database never
// holds a change the changelog might not, so after a crash or a failed
// batch it is restored by reading the changelog from the checkpoint.
type diskStore struct {
	db  *pebble.DB
	dir string

	// The owner's (see store).
	overlay map[string]overlaid
	dirty   map[string]struct{}
	seq     uint64     // captures so far
	queue   []captured // captures whose overlay entries may still be pruned
	restore *pebble.Batch
	arena   []byte // copies of values read from the database
	// last is the last key get looked up in the database and whether it
	// was there: a delete right after (a timer firing, a window closing)
	// does not look it up again. Any change forgets it.
	last   string
	lastOK bool

	done  atomic.Uint64 // captures written
	fault error         // the first read error (see store.err)

	mu     sync.Mutex // orders written with close
	closed bool
}

// overlaid is a key's value in the overlay: set by capture seq, deleted
// when del.
type overlaid struct {
	v   []byte
	del bool
	seq uint64
}

type captured struct {
	seq     uint64
	changes []Change
}

// The disk store's own keys, before every key of a partition (whose first
// byte is a letter, see partition.go).
var (
	keyCheckpoint = []byte("\x00checkpoint")
	keyIdentity   = []byte("\x00identity")
	ownEnd        = []byte("\x01")
)

// restoreBatchBytes is the size at which a restore commits what it read
// so far (without the checkpoint, which comes at its end).
const restoreBatchBytes = 16 << 20

// DiskDir is the directory of the disk store of a changelog's partition
// under state_dir.
func DiskDir(stateDir, changelog string, partition int32) string {
	return filepath.Join(stateDir, changelog, strconv.Itoa(int(partition)))
}

// openDisk opens (creating it when missing) the disk store in dir.
// Another process holding it (an instance of the same pipeline sharing
// the state_dir) is waited for until wait has passed: a partition's
// previous owner closes it when its claim ends.
func openDisk(dir string, wait time.Duration) (*diskStore, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(wait)
	for {
		db, err := pebble.Open(dir, pebbleOptions())
		if err == nil {
			return &diskStore{db: db, dir: dir, overlay: map[string]overlaid{}, dirty: map[string]struct{}{}}, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("disk store %s: %w (is another instance using the same state_dir?)", dir, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sharedCache is the block cache of every disk store of the process.
var sharedCache = sync.OnceValue(func() *pebble.Cache { return pebble.NewCache(128 << 20) })

// pebbleOptions are Pebble's options for a store: bloom filters on every
// level (most of a window's reads are of keys that are not there yet), a
// block cache of 128 MiB shared by the process's stores, memtables of 4 MiB.
func pebbleOptions() *pebble.Options {
	o := &pebble.Options{Logger: quietLogger{}, Cache: sharedCache(), MemTableSize: 4 << 20}
	for i := range o.Levels {
		o.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	return o
}

// checkpoint returns the changelog offset the store holds up to, and the
// identity of the changelog it was written from ("" for a new store).
func (s *diskStore) checkpoint() (int64, string, error) {
	id, err := s.read(keyIdentity)
	if err != nil {
		return 0, "", err
	}
	cp, err := s.read(keyCheckpoint)
	if err != nil || len(cp) != 8 {
		return 0, string(id), err
	}
	return int64(binary.BigEndian.Uint64(cp)), string(id), nil
}

func (s *diskStore) read(k []byte) ([]byte, error) {
	v, c, err := s.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return bytes.Clone(v), nil
}

// wipe empties the store and marks it as the changelog identity's.
func (s *diskStore) wipe(identity string) error {
	b := s.db.NewBatch()
	if err := b.DeleteRange([]byte{0}, []byte{0xff, 0xff, 0xff, 0xff}, nil); err != nil {
		return err
	}
	if err := b.Set(keyIdentity, []byte(identity), nil); err != nil {
		return err
	}
	return b.Commit(pebble.Sync)
}

func (s *diskStore) get(key []byte) ([]byte, bool) {
	if o, ok := s.overlay[string(key)]; ok {
		return o.v, !o.del
	}
	s.last, s.lastOK = string(key), false
	v, c, err := s.db.Get(key)
	if err != nil {
		if !errors.Is(err, pebble.ErrNotFound) && s.fault == nil {
			s.fault = fmt.Errorf("disk store %s: %w", s.dir, err)
		}
		return nil, false
	}
	out := s.copy(v)
	c.Close()
	s.lastOK = true
	return out, true
}

// has reports whether key has a value, without copying it.
func (s *diskStore) has(key []byte) bool {
	if o, ok := s.overlay[string(key)]; ok {
		return !o.del
	}
	if s.last == string(key) {
		return s.lastOK
	}
	_, ok := s.get(key)
	return ok
}

// copy returns v copied into the arena: a value Get returned stays as it
// is, and the arena costs an allocation per 64 KiB of values read.
func (s *diskStore) copy(v []byte) []byte {
	if len(v) > cap(s.arena)-len(s.arena) {
		s.arena = make([]byte, 0, max(64<<10, len(v)))
	}
	n := len(s.arena)
	s.arena = append(s.arena, v...)
	return s.arena[n:len(s.arena):len(s.arena)]
}

func (s *diskStore) put(key, value []byte) {
	s.last = ""
	s.overlay[string(key)] = overlaid{v: bytes.Clone(value), seq: s.seq + 1}
	s.dirty[string(key)] = struct{}{}
}

func (s *diskStore) del(key []byte) {
	if !s.has(key) {
		return
	}
	s.last = ""
	s.overlay[string(key)] = overlaid{del: true, seq: s.seq + 1}
	s.dirty[string(key)] = struct{}{}
}

func (s *diskStore) capture() []Change {
	s.last = ""
	s.prune()
	if len(s.dirty) == 0 {
		return nil
	}
	s.seq++
	out := make([]Change, 0, len(s.dirty))
	for k := range s.dirty {
		o := s.overlay[k]
		c := Change{Key: []byte(k)}
		if !o.del {
			c.Value = o.v
		}
		out = append(out, c)
	}
	clear(s.dirty)
	s.queue = append(s.queue, captured{seq: s.seq, changes: out})
	return out
}

// prune drops from the overlay the keys of the captures written to the
// database since, unless a later batch changed them again.
func (s *diskStore) prune() {
	done := s.done.Load()
	for len(s.queue) > 0 && s.queue[0].seq <= done {
		c := s.queue[0]
		for _, ch := range c.changes {
			if o, ok := s.overlay[string(ch.Key)]; ok && o.seq == c.seq {
				delete(s.overlay, string(ch.Key))
			}
		}
		s.queue[0] = captured{}
		s.queue = s.queue[1:]
	}
}

// written commits changes and the checkpoint end in one batch. Without a
// sync: a crash of the machine loses a suffix of the batches and their
// checkpoints together, which the changelog still holds.
func (s *diskStore) written(changes []Change, end int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed { // the partition was closed: the checkpoint stays behind
		return nil
	}
	b := s.db.NewBatch()
	defer b.Close()
	for _, c := range changes {
		if err := setOrDelete(b, c.Key, c.Value); err != nil {
			return err
		}
	}
	if err := b.Set(keyCheckpoint, binary.BigEndian.AppendUint64(nil, uint64(end)), nil); err != nil {
		return err
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("disk store %s: %w", s.dir, err)
	}
	s.done.Add(1)
	return nil
}

func setOrDelete(b *pebble.Batch, k, v []byte) error {
	if v == nil {
		return b.Delete(k, nil)
	}
	return b.Set(k, v, nil)
}

// load writes restored changes in batches of restoreBatchBytes. What a
// restore cut short wrote is ahead of the checkpoint, and harmless: it came
// from the changelog, and the next restore reads again from the
// checkpoint, setting every key it wrote to its last value again.
func (s *diskStore) load(key, value []byte) {
	s.last = ""
	if s.restore == nil {
		s.restore = s.db.NewBatch()
	}
	if err := setOrDelete(s.restore, key, value); err != nil {
		panic(err) // a batch refuses only keys over 4 GiB
	}
	if s.restore.Len() >= restoreBatchBytes {
		_ = s.restore.Commit(pebble.NoSync) // loaded's commit reports a failure
		s.restore.Reset()
	}
}

func (s *diskStore) loaded(end int64) error {
	if s.restore == nil {
		s.restore = s.db.NewBatch()
	}
	defer func() { s.restore.Close(); s.restore = nil }()
	if err := s.restore.Set(keyCheckpoint, binary.BigEndian.AppendUint64(nil, uint64(end)), nil); err != nil {
		return err
	}
	if err := s.restore.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("disk store %s: %w", s.dir, err)
	}
	return nil
}

// rangeKeys merges the database's keys in [from, to) with the overlay's.
func (s *diskStore) rangeKeys(from, to []byte, fn func(k, v []byte) bool) {
	if from == nil || bytes.Compare(from, ownEnd) < 0 {
		from = ownEnd
	}
	var over []string
	for k := range s.overlay {
		if k >= string(from) && (to == nil || k < string(to)) {
			over = append(over, k)
		}
	}
	slices.Sort(over)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: from, UpperBound: to})
	if err != nil {
		if s.fault == nil {
			s.fault = fmt.Errorf("disk store %s: %w", s.dir, err)
		}
		return
	}
	defer it.Close()
	ok := it.First()
	for ok || len(over) > 0 {
		var k []byte
		switch {
		case !ok:
		case len(over) == 0 || bytes.Compare(it.Key(), []byte(over[0])) < 0:
			k = it.Key()
		}
		if k != nil { // the database's, not overlaid
			if !fn(k, it.Value()) {
				return
			}
			ok = it.Next()
			continue
		}
		o := s.overlay[over[0]]
		if ok && string(it.Key()) == over[0] {
			ok = it.Next() // overlaid
		}
		if !o.del && !fn([]byte(over[0]), o.v) {
			return
		}
		over = over[1:]
	}
}

func (s *diskStore) err() error { return s.fault }

func (s *diskStore) len() int {
	n := 0
	s.rangeKeys(nil, nil, func(_, _ []byte) bool { n++; return true })
	return n
}

// close closes the database; the changes written after are not kept (the
// changelog has them).
func (s *diskStore) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.restore != nil {
		s.restore.Close()
		s.restore = nil
	}
	return s.db.Close()
}

// quietLogger drops Pebble's informational lines and keeps its errors and
// fatal ones on stderr, as Pebble's default does.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any) {}
func (quietLogger) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pebble: "+format+"\n", args...)
}
func (quietLogger) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pebble: "+format+"\n", args...)
	os.Exit(1)
}
