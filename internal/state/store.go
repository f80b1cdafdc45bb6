package state

import (
	"bytes"
	"slices"
)

// store is one partition's keys and values: the memory store (memStore)
// or the disk store (diskStore, under [global] state_dir). Both keep the
// keys changed since the last capture, so that a batch's changes go to the
// changelog.
//
// The goroutine applying the partition's batches makes every call but
// written, which the goroutine writing the batch's changes to the
// changelog makes, concurrently with the others.
type store interface {
	get(key []byte) ([]byte, bool)
	put(key, value []byte)
	del(key []byte)
	// rangeKeys calls fn for the keys in [from, to) in ascending order
	// (nil: unbounded) until it returns false.
	rangeKeys(from, to []byte, fn func(k, v []byte) bool)
	// capture returns the changes since the last capture, each key with
	// its value now (nil: deleted), and forgets them.
	capture() []Change
	// written says that changes, the oldest non-empty capture not written
	// yet, are durable in the changelog, which now ends at end. Called in
	// capture order; a capture that is never written (its batch failed) is
	// followed by no other written call before close.
	written(changes []Change, end int64) error
	// load sets key (a nil value deletes it) during a restore, without
	// marking it changed; loaded ends the restore, which read the
	// changelog up to end.
	load(key, value []byte)
	loaded(end int64) error
	// len counts the keys (a disk store reads them all).
	len() int
	// err is the first error reading the store met (get and rangeKeys
	// have none to return): the batch fails with it.
	err() error
	close() error
}

// memStore is the memory store: one Go map per partition. It keeps the
// set of keys changed since the last capture (see capture).
type memStore struct {
	m     map[string][]byte
	dirty map[string]struct{}
}

func newMemStore() *memStore {
	return &memStore{m: map[string][]byte{}, dirty: map[string]struct{}{}}
}

func (s *memStore) get(key []byte) ([]byte, bool) {
	v, ok := s.m[string(key)]
	return v, ok
}

// put copies value over the key's old value when it has the same length
// (a count or a sum that changed), so that the usual update allocates
// nothing; capture copies the values it hands out for that reason.
func (s *memStore) put(key, value []byte) {
	if old, ok := s.m[string(key)]; ok && len(old) == len(value) {
		copy(old, value)
		if _, ok := s.dirty[string(key)]; !ok {
			s.dirty[string(key)] = struct{}{}
		}
		return
	}
	k := string(key)
	s.m[k] = bytes.Clone(value)
	s.dirty[k] = struct{}{}
}

func (s *memStore) del(key []byte) {
	k := string(key)
	if _, ok := s.m[k]; !ok {
		return
	}
	delete(s.m, k)
	s.dirty[k] = struct{}{}
}

func (s *memStore) written([]Change, int64) error { return nil }
func (s *memStore) loaded(int64) error            { return nil }
func (s *memStore) close() error                  { return nil }
func (s *memStore) err() error                    { return nil }

func (s *memStore) load(key, value []byte) {
	if value == nil {
		delete(s.m, string(key))
		return
	}
	s.m[string(key)] = bytes.Clone(value)
}

func (s *memStore) rangeKeys(from, to []byte, fn func(k, v []byte) bool) {
	keys := make([]string, 0, len(s.m))
	for k := range s.m {
		if (from == nil || k >= string(from)) && (to == nil || k < string(to)) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !fn([]byte(k), s.m[k]) {
			return
		}
	}
}

func (s *memStore) capture() []Change {
	if len(s.dirty) == 0 {
		return nil
	}
	out := make([]Change, 0, len(s.dirty))
	for k := range s.dirty {
		out = append(out, Change{Key: []byte(k), Value: bytes.Clone(s.m[k])}) // put writes over values
	}
	clear(s.dirty)
	return out
}

func (s *memStore) len() int { return len(s.m) }
