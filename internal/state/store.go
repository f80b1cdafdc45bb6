package state

import (
	"bytes"
	"slices"
)

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

func (s *memStore) put(key, value []byte) {
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

// load sets key without marking it changed (a restore).
func (s *memStore) load(key, value []byte) {
	if value == nil {
		delete(s.m, string(key))
		return
	}
	s.m[string(key)] = bytes.Clone(value)
}

// rangeKeys calls fn for the keys in [from, to) in order.
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

// capture returns the changes since the last capture, each key with its
// value now (nil: deleted), and forgets them.
func (s *memStore) capture() []Change {
	if len(s.dirty) == 0 {
		return nil
	}
	out := make([]Change, 0, len(s.dirty))
	for k := range s.dirty {
		out = append(out, Change{Key: []byte(k), Value: s.m[k]})
	}
	clear(s.dirty)
	return out
}

func (s *memStore) len() int { return len(s.m) }
