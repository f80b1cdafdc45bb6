package state

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// stores are the store implementations, each run through the same tests.
var stores = []struct {
	name string
	open func(t *testing.T) store
}{
	{"memory", func(*testing.T) store { return newMemStore() }},
	{"disk", func(t *testing.T) store {
		ds, err := openDisk(t.TempDir(), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ds.close() })
		return ds
	}},
}

func forEachStore(t *testing.T, fn func(t *testing.T, s store)) {
	for _, kind := range stores {
		t.Run(kind.name, func(t *testing.T) { fn(t, kind.open(t)) })
	}
}

func get(s store, k string) string {
	v, ok := s.get([]byte(k))
	if !ok {
		return "-"
	}
	return string(v)
}

func all(s store, from, to string) string {
	var lo, hi []byte
	if from != "" {
		lo = []byte(from)
	}
	if to != "" {
		hi = []byte(to)
	}
	var out []string
	s.rangeKeys(lo, hi, func(k, v []byte) bool { out = append(out, string(k)+"="+string(v)); return true })
	return strings.Join(out, " ")
}

func changes(cs []Change) string {
	m := map[string]string{}
	for _, c := range cs {
		v := "<del>"
		if c.Value != nil {
			v = string(c.Value)
		}
		m[string(c.Key)] = v
	}
	return fmt.Sprint(m)
}

// A store gives back what was put, forgets what was deleted, copies what
// it is given, and captures each key changed once, with its last value.
func TestStoreGetPutDeleteCapture(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		buf := []byte("1")
		s.put([]byte("ua"), buf)
		buf[0] = '9' // the caller reuses its slice
		s.put([]byte("ub"), []byte("2"))
		s.put([]byte("ub"), []byte("3"))
		s.del([]byte("uc")) // absent: no change
		if got := get(s, "ua") + get(s, "ub") + get(s, "uc"); got != "13-" {
			t.Fatalf("get: %s, want 13-", got)
		}
		c1 := s.capture()
		if got, want := changes(c1), "map[ua:1 ub:3]"; got != want {
			t.Fatalf("capture: %s, want %s", got, want)
		}
		if s.capture() != nil {
			t.Fatal("a second capture without changes is not empty")
		}
		s.del([]byte("ua"))
		c2 := s.capture()
		if got, want := changes(c2), "map[ua:<del>]"; got != want {
			t.Fatalf("capture after a delete: %s, want %s", got, want)
		}
		// Written in order; what is read does not change.
		if err := s.written(c1, 2); err != nil {
			t.Fatal(err)
		}
		s.put([]byte("ub"), []byte("4"))
		if got := get(s, "ua") + get(s, "ub"); got != "-4" {
			t.Fatalf("after the first write: %s, want -4", got)
		}
		if err := s.written(c2, 3); err != nil {
			t.Fatal(err)
		}
		c3 := s.capture()
		if err := s.written(c3, 4); err != nil {
			t.Fatal(err)
		}
		if got := get(s, "ua") + get(s, "ub") + fmt.Sprint(s.len()); got != "-41" {
			t.Fatalf("after every write: %s, want -41", got)
		}
	})
}

// Range gives the keys of [from, to) in byte order, those written and
// those not written yet alike, without the deleted ones, and stops when
// told to.
func TestStoreRange(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		for _, k := range []string{"ub", "ud", "uf", "ta", "mw"} {
			s.put([]byte(k), []byte(k[1:]))
		}
		written := s.capture()
		if err := s.written(written, 5); err != nil {
			t.Fatal(err)
		}
		s.put([]byte("ua"), []byte("A")) // not written yet
		s.put([]byte("ud"), []byte("D"))
		s.del([]byte("uf"))
		s.put([]byte("ue"), []byte("E"))
		if got, want := all(s, "u", "v"), "ua=A ub=b ud=D ue=E"; got != want {
			t.Errorf("range u: %s, want %s", got, want)
		}
		if got, want := all(s, "ub", "ue"), "ub=b ud=D"; got != want {
			t.Errorf("range [ub, ue): %s, want %s", got, want)
		}
		if got, want := all(s, "", ""), "mw=w ta=a ua=A ub=b ud=D ue=E"; got != want {
			t.Errorf("range of everything: %s, want %s", got, want)
		}
		n := 0
		s.rangeKeys(nil, nil, func(_, _ []byte) bool { n++; return n < 2 })
		if n != 2 {
			t.Errorf("range went on after false: %d calls", n)
		}
	})
}

// What a restore loads is read back as it was loaded, a nil value
// deleting, and is not captured as a change.
func TestStoreLoad(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		s.load([]byte("ua"), []byte("1"))
		s.load([]byte("ub"), []byte("2"))
		s.load([]byte("ua"), nil)
		if err := s.loaded(3); err != nil {
			t.Fatal(err)
		}
		if got := get(s, "ua") + get(s, "ub"); got != "-2" {
			t.Errorf("after the restore: %s, want -2", got)
		}
		if c := s.capture(); c != nil {
			t.Errorf("a restore captured changes: %s", changes(c))
		}
	})
}

// The disk store keeps what was written, with its checkpoint, across a
// close; what was not written yet is not kept.
func TestDiskStoreKeepsWhatWasWrittenWithItsCheckpoint(t *testing.T) {
	dir := t.TempDir()
	ds, err := openDisk(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := ds.wipe("log-1"); err != nil {
		t.Fatal(err)
	}
	ds.put([]byte("ua"), []byte("1"))
	c := ds.capture()
	ds.put([]byte("ub"), []byte("2"))
	ds.capture() // its changelog write never came
	if err := ds.written(c, 7); err != nil {
		t.Fatal(err)
	}
	ds.close()
	if err := ds.written(nil, 9); err != nil { // after close: nothing
		t.Fatal(err)
	}
	again, err := openDisk(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer again.close()
	cp, id, err := again.checkpoint()
	if err != nil || cp != 7 || id != "log-1" {
		t.Fatalf("checkpoint %d of %q (%v), want 7 of log-1", cp, id, err)
	}
	if got := get(again, "ua") + get(again, "ub"); got != "1-" {
		t.Errorf("reopened: %s, want 1- (the unwritten change is not kept)", got)
	}
	// Held by one store, the directory is refused to another, saying why.
	if _, err := openDisk(dir, 200*time.Millisecond); err == nil || !strings.Contains(err.Error(), "another instance") {
		t.Errorf("a second open of a store in use: %v", err)
	}
}

// A change captured keeps its value while the batch after it changes the
// key again (the memory store writes a value of the same length over the
// old one), and putting a key it holds with a value of the same length
// allocates nothing in the memory store.
func TestStoreCapturedValueOutlivesNextPut(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		s.put([]byte("k"), []byte("v1"))
		first := s.capture()
		s.put([]byte("k"), []byte("v2"))
		if len(first) != 1 || string(first[0].Value) != "v1" {
			t.Fatalf("captured %q after the next put, want k=v1", first)
		}
		if v, _ := s.get([]byte("k")); string(v) != "v2" {
			t.Fatalf("get after put: %q", v)
		}
		if second := s.capture(); len(second) != 1 || string(second[0].Value) != "v2" {
			t.Fatalf("second capture %q, want k=v2", second)
		}
	})
	s := newMemStore()
	key, v := []byte("window"), []byte("12345678")
	s.put(key, v)
	if n := testing.AllocsPerRun(100, func() { s.put(key, v) }); n != 0 {
		t.Fatalf("put of a held key: %v allocations", n)
	}
}
