package state

import (
	"errors"
	"fmt"
	"os"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Inspector is a Processor that can show its state to `conveyor state
// --key`: the runtime knows bytes, the processor what they mean.
type Inspector interface {
	// Inspect returns, for a key as a user names it (a group's value, an
	// identity), a function telling whether a key the processor stored
	// holds that key's state, and giving its value as readable JSON.
	Inspect(key string) func(stored, value []byte) (json []byte, ok bool)
}

// KeyKind is what a changelog key holds: a processor's key (Processor),
// a timer (Timer) or the partition's own marks (Mark).
type KeyKind int

// The kinds of changelog keys.
const (
	Processor KeyKind = iota
	Timer
	Mark
)

// SplitKey returns what a changelog key holds and, for a processor's key,
// the key as the processor stored it.
func SplitKey(k []byte) (KeyKind, []byte) {
	switch {
	case len(k) > 0 && k[0] == spaceUser:
		return Processor, k[1:]
	case len(k) > 0 && k[0] == spaceTimer:
		return Timer, nil
	}
	return Mark, nil
}

// ErrStoreInUse is DiskCheckpoint's error for a store a running instance
// holds.
var ErrStoreInUse = errors.New("in use by a running instance")

// DiskCheckpoint reads the changelog offset the disk store in dir holds up
// to, without changing it; os.ErrNotExist when there is none.
func DiskCheckpoint(dir string) (int64, error) {
	if _, err := os.Stat(dir); err != nil {
		return 0, err
	}
	lock, err := pebble.LockDirectory(dir, vfs.Default)
	if err != nil {
		return 0, ErrStoreInUse
	}
	defer lock.Close()
	db, err := pebble.Open(dir, &pebble.Options{ReadOnly: true, ErrorIfNotExists: true, Lock: lock, Logger: quietLogger{}})
	if err != nil {
		return 0, fmt.Errorf("disk store %s: %w", dir, err)
	}
	ds := &diskStore{db: db, dir: dir}
	defer db.Close()
	cp, _, err := ds.checkpoint()
	return cp, err
}
