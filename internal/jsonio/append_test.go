package jsonio

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Appending keeps every record already in the file, in both formats and
// layouts, and creates the file when there is none.
func TestAppend(t *testing.T) {
	for _, opt := range []WriteOptions{
		{Format: FormatRecords, Append: true}, {Format: FormatRecords, Pretty: true, Append: true},
		{Format: FormatJSONL, Append: true},
	} {
		path := filepath.Join(t.TempDir(), "sub", "out.json")
		var want []string
		for run := range 3 {
			recs := []string{`{"run":` + string(rune('0'+run)) + `,"i":0}`, sampleRecords[run+1], `{"run":` + string(rune('0'+run)) + `,"i":1}`}
			writeFile(t, path, opt, toBytes(recs))
			for _, r := range recs {
				want = append(want, compact(t, r))
			}
			got := readFile(t, path, opt.Format)
			for i := range got {
				got[i] = compact(t, got[i])
			}
			if !slices.Equal(got, want) {
				t.Errorf("%+v, run %d: file holds %q, want %q", opt, run, got, want)
			}
		}
		data, _ := os.ReadFile(path)
		if opt.Format == FormatRecords && !json.Valid(data) {
			t.Errorf("%+v: not one JSON value:\n%s", opt, data)
		}
		if tmp := tmpEntries(t, filepath.Dir(path)); len(tmp) != 0 {
			t.Errorf("%+v: temporary files left: %q", opt, tmp)
		}
	}
}

// An existing records file in another layout, or empty, is appended to.
func TestAppendRecordsExisting(t *testing.T) {
	for existing, want := range map[string][]string{
		"":    {`"new"`},
		" \n": {`"new"`},
		"[]":  {`"new"`},
		"\xef\xbb\xbf[\n  {\"a\": [1, 2]},\n  3\n]\n": {`{"a":[1,2]}`, `3`, `"new"`},
	} {
		path := filepath.Join(t.TempDir(), "r.json")
		if err := os.WriteFile(path, []byte(existing), 0o644); err != nil {
			t.Fatal(err)
		}
		writeFile(t, path, WriteOptions{Format: FormatRecords, Append: true}, toBytes([]string{`"new"`}))
		if got := readFile(t, path, FormatRecords); !slices.Equal(got, want) {
			t.Errorf("appending to %q: %q, want %q", existing, got, want)
		}
	}
}

// Appending in the other format is refused before anything is written,
// naming the file.
func TestAppendRefusesOtherFormat(t *testing.T) {
	for _, tc := range []struct {
		format   Format
		existing string
		msg      string
	}{
		{FormatRecords, "{\"a\":1}\n{\"a\":2}\n", "it holds JSON Lines, not the JSON array that format records appends to"},
		{FormatRecords, "[{\"a\":1},", "it is not a valid JSON array: line 1, column 10: element 2: expected a record after ',' in the array, found the end of the input"},
		{FormatJSONL, "[{\"a\":1}]\n", "it holds a JSON array, and JSON Lines appended to it would make it invalid"},
		{FormatJSONL, "\n  [\n{\"a\":1}\n]", "it holds a JSON array"},
	} {
		dir := t.TempDir()
		path := filepath.Join(dir, "x.json")
		if err := os.WriteFile(path, []byte(tc.existing), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Create(path, WriteOptions{Format: tc.format, Append: true})
		if err == nil || !errors.Is(err, ErrCannotAppend) || !strings.Contains(err.Error(), "jsonio: cannot append to "+path+": ") || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%v onto %q: error %v, want one naming %s and saying %q", tc.format, tc.existing, err, path, tc.msg)
		}
		if got, _ := os.ReadFile(path); string(got) != tc.existing {
			t.Errorf("file changed to %q", got)
		}
		if tmp := tmpEntries(t, dir); len(tmp) != 0 {
			t.Errorf("temporary files left: %q", tmp)
		}
	}
}

// Until Commit, an append leaves the file as it was (a crash loses
// nothing that was there), and a second Create removes the first one's
// temporary file.
func TestAppendUncommittedLeavesDestination(t *testing.T) {
	for existing, format := range map[string]Format{"[\"old\"]\n": FormatRecords, "\"old\"\n": FormatJSONL} {
		dir := t.TempDir()
		path := filepath.Join(dir, "d.json")
		if err := os.WriteFile(path, []byte(existing), 0o644); err != nil {
			t.Fatal(err)
		}
		w, err := Create(path, WriteOptions{Format: format, Append: true})
		if err != nil {
			t.Fatal(err)
		}
		for range 1000 {
			if err := w.Write([]byte(`{"new":true}`)); err != nil {
				t.Fatal(err)
			}
		}
		if got, _ := os.ReadFile(path); string(got) != existing {
			t.Errorf("%v: destination changed before Commit: %q", format, got)
		}
		// A crash, then the next run: the crashed run's records are gone,
		// the old ones are there.
		writeFile(t, path, WriteOptions{Format: format, Append: true}, toBytes([]string{`"next"`}))
		if got := readFile(t, path, format); !slices.Equal(got, []string{`"old"`, `"next"`}) {
			t.Errorf("%v: after a crash and a new run: %q", format, got)
		}
		if tmp := tmpEntries(t, dir); len(tmp) != 0 {
			t.Errorf("%v: temporary files left: %q", format, tmp)
		}
	}
}

// A JSON Lines file whose last line has no newline: a complete record
// keeps its line, the torn end of an interrupted append is cut off and
// reported.
func TestAppendJSONLRepairsTail(t *testing.T) {
	long := `{"s":"` + strings.Repeat("x", 200<<10) + `"}`
	for _, tc := range []struct {
		existing string
		want     []string
		warned   bool
	}{
		{`{"a":1}`, []string{`{"a":1}`, `"new"`}, false},
		{"{\"a\":1}\n{\"b\":2}  ", []string{`{"a":1}`, `{"b":2}`, `"new"`}, false},
		{"{\"a\":1}\n{\"b\":", []string{`{"a":1}`, `"new"`}, true},
		{"{\"a\":1}\n" + long[:len(long)-1], []string{`{"a":1}`, `"new"`}, true},
		{long, []string{long, `"new"`}, false},
		{`{"torn`, []string{`"new"`}, true},
		{"\n", []string{`"new"`}, false},
	} {
		path := filepath.Join(t.TempDir(), "t.jsonl")
		if err := os.WriteFile(path, []byte(tc.existing), 0o644); err != nil {
			t.Fatal(err)
		}
		var warnings []string
		opt := WriteOptions{Format: FormatJSONL, Append: true, Warn: func(m string) { warnings = append(warnings, m) }}
		writeFile(t, path, opt, toBytes([]string{`"new"`}))
		if got := readFile(t, path, FormatJSONL); !slices.Equal(got, tc.want) {
			t.Errorf("after %.30q: %.100q, want %.100q", tc.existing, got, tc.want)
		}
		if tc.warned != (len(warnings) == 1) || tc.warned && !strings.Contains(warnings[0], path+" ended in ") {
			t.Errorf("after %.30q: warnings %q", tc.existing, warnings)
		}
	}
}

// An append with no records leaves the file alone.
func TestAppendNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "n.jsonl")
	const existing = `{"a":1}` // no newline: not repaired either
	if err := os.WriteFile(path, []byte(existing), 0o644); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, WriteOptions{Format: FormatJSONL, Append: true}, nil)
	if got, _ := os.ReadFile(path); string(got) != existing {
		t.Errorf("file changed to %q", got)
	}
}

// recordSyncs makes fsync log what it syncs, and fail for the names in
// fail.
func recordSyncs(t *testing.T, fail ...string) *[]string {
	var synced []string
	orig := fsync
	fsync = func(f *os.File) error {
		synced = append(synced, f.Name())
		if slices.Contains(fail, f.Name()) {
			return os.ErrDeadlineExceeded
		}
		return orig(f)
	}
	t.Cleanup(func() { fsync = orig })
	return &synced
}

// Commit syncs what it wrote before returning: a new file before its
// rename and then its directory, an appended file itself.
func TestCommitSyncs(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.json")
	for _, tc := range []struct {
		opt  WriteOptions
		want func(temp string) []string
	}{
		{WriteOptions{Format: FormatRecords}, func(temp string) []string { return []string{temp, dir} }},
		{WriteOptions{Format: FormatRecords, Append: true}, func(temp string) []string { return []string{temp, dir} }},
		{WriteOptions{Format: FormatJSONL}, func(temp string) []string { return []string{temp, dir} }},
		{WriteOptions{Format: FormatJSONL, Append: true}, func(string) []string { return []string{path} }},
	} {
		os.Remove(path)
		if tc.opt.Append {
			writeFile(t, path, WriteOptions{Format: tc.opt.Format}, toBytes([]string{`1`}))
		}
		synced := recordSyncs(t)
		w, err := Create(path, tc.opt)
		if err != nil {
			t.Fatal(err)
		}
		temp := w.f.Name()
		if err := w.Write([]byte(`2`)); err != nil {
			t.Fatal(err)
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		if want := tc.want(temp); !slices.Equal(*synced, want) {
			t.Errorf("%+v: synced %q, want %q", tc.opt, *synced, want)
		}
	}
}

// A failed sync fails Commit and leaves the file as it was: a replaced
// file is not renamed, an appended one is cut back.
func TestCommitSyncFailure(t *testing.T) {
	for _, format := range []Format{FormatRecords, FormatJSONL} {
		dir := t.TempDir()
		path := filepath.Join(dir, "f.json")
		writeFile(t, path, WriteOptions{Format: format}, toBytes([]string{`"old"`}))
		before, _ := os.ReadFile(path)
		for _, appending := range []bool{false, true} {
			w, err := Create(path, WriteOptions{Format: format, Append: appending})
			if err != nil {
				t.Fatal(err)
			}
			recordSyncs(t, w.f.Name(), path)
			if err := w.Write([]byte(`"new"`)); err != nil {
				t.Fatal(err)
			}
			if err := w.Commit(); err == nil || !strings.Contains(err.Error(), "commit "+path) {
				t.Errorf("%v, append %v: Commit = %v, want the sync error", format, appending, err)
			}
			if got, _ := os.ReadFile(path); string(got) != string(before) {
				t.Errorf("%v, append %v: file is %q after a failed Commit, want %q", format, appending, got, before)
			}
			if tmp := tmpEntries(t, dir); len(tmp) != 0 {
				t.Errorf("%v, append %v: temporary files left: %q", format, appending, tmp)
			}
		}
	}
}
