package jsonio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sampleRecords are records in a mix of shapes, some not compact.
var sampleRecords = []string{
	`{"a":1,"b":"x"}`,
	` { "nested" : { "arr" : [ 1 , 2 , { } , [ ] ] , "s" : "a b\n<&>" } } `,
	`"just a string"`,
	`-1.50e3`,
	`null`,
	`[]`,
	`{}`,
	`{"u":"é\u00e9 🎉"}`,
}

func toBytes(recs []string) [][]byte {
	out := make([][]byte, len(recs))
	for i, r := range recs {
		out[i] = []byte(r)
	}
	return out
}

func compact(t testing.TB, rec string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(rec)); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func writeFile(t testing.TB, path string, opt WriteOptions, recs [][]byte) {
	t.Helper()
	w, err := Create(path, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if err := w.Write(recs...); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

func readFile(t testing.TB, path string, f Format) []string {
	t.Helper()
	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	r := NewReader(file, f)
	var recs []string
	for {
		rec, err := r.Next()
		if err != nil {
			if err == io.EOF {
				return recs
			}
			t.Fatal(err)
		}
		recs = append(recs, string(rec))
	}
}

// tmpEntries lists the temporary files left in dir.
func tmpEntries(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var tmp []string
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			tmp = append(tmp, e.Name())
		}
	}
	return tmp
}

func TestRoundTrip(t *testing.T) {
	for _, opt := range []WriteOptions{
		{Format: FormatAuto}, {Format: FormatRecords}, {Format: FormatRecords, Pretty: true},
		{Format: FormatJSONL}, {Format: FormatJSONL, Pretty: true},
	} {
		t.Run(fmt.Sprintf("%v,pretty=%v", opt.Format, opt.Pretty), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out.json")
			writeFile(t, path, opt, toBytes(sampleRecords))
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasSuffix(data, []byte("\n")) {
				t.Errorf("file does not end with a newline")
			}
			if opt.Format == FormatJSONL {
				if lines := strings.Count(string(data), "\n"); lines != len(sampleRecords) {
					t.Errorf("%d lines, want %d", lines, len(sampleRecords))
				}
			} else if !json.Valid(data) {
				t.Errorf("file is not valid JSON:\n%s", data)
			}
			got := readFile(t, path, FormatAuto)
			if len(got) != len(sampleRecords) {
				t.Fatalf("read %d records, want %d", len(got), len(sampleRecords))
			}
			for i, rec := range got {
				if compact(t, rec) != compact(t, sampleRecords[i]) {
					t.Errorf("record %d = %s, want %s", i, rec, sampleRecords[i])
				}
				if !opt.Pretty && rec != compact(t, sampleRecords[i]) {
					t.Errorf("record %d = %s, not compact", i, rec)
				}
			}
		})
	}
}

func TestRoundTripLarge(t *testing.T) {
	const n = 100_000
	recs := make([][]byte, n)
	for i := range recs {
		recs[i] = fmt.Appendf(nil, `{"id":%d,"name":"user-%d","tags":["a","b,c"],"nested":{"ok":%v}}`, i, i, i%2 == 0)
	}
	for _, opt := range []WriteOptions{{Format: FormatRecords}, {Format: FormatRecords, Pretty: true}, {Format: FormatJSONL}} {
		path := filepath.Join(t.TempDir(), "big.json")
		w, err := Create(path, opt)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range recs {
			if err := w.Write(rec); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		got := readFile(t, path, FormatAuto)
		if len(got) != n {
			t.Fatalf("%+v: read %d records, want %d", opt, len(got), n)
		}
		for i := range got { // the Reader compacts the records
			if got[i] != string(recs[i]) {
				t.Fatalf("%+v: record %d = %s, want %s", opt, i, got[i], recs[i])
			}
		}
	}
}

func TestPrettyMatchesMarshalIndent(t *testing.T) {
	cases := [][]string{
		nil,
		{`1`},
		{`{}`, `[]`, `{"a":[]}`},
		{`{"a":{"x":[1,{"y":null}],"z":"s"},"b":1}`, `[1,[2,[3]]]`, `"x"`, `true`},
	}
	for _, recs := range cases {
		path := filepath.Join(t.TempDir(), "p.json")
		writeFile(t, path, WriteOptions{Pretty: true}, toBytes(recs))
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		// The layout of MarshalIndent on the records as they are ...
		raw := make([]json.RawMessage, len(recs))
		for i, r := range recs {
			raw[i] = json.RawMessage(r)
		}
		want, err := json.MarshalIndent(raw, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want)+"\n" {
			t.Errorf("records %q\n got:\n%s\nwant:\n%s", recs, got, want)
		}
		// ... and on the decoded array (these records are canonical).
		var decoded []any
		if err := json.Unmarshal(got, &decoded); err != nil {
			t.Fatal(err)
		}
		if decoded == nil {
			decoded = []any{}
		}
		want, err = json.MarshalIndent(decoded, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want)+"\n" {
			t.Errorf("records %q\n got:\n%s\nwant:\n%s", recs, got, want)
		}
	}
}

func TestWriteEmpty(t *testing.T) {
	for _, tt := range []struct {
		opt  WriteOptions
		want string
	}{
		{WriteOptions{}, "[]\n"},
		{WriteOptions{Pretty: true}, "[]\n"},
		{WriteOptions{Format: FormatJSONL}, ""},
	} {
		path := filepath.Join(t.TempDir(), "e.json")
		writeFile(t, path, tt.opt, nil)
		if got, _ := os.ReadFile(path); string(got) != tt.want {
			t.Errorf("%+v: wrote %q, want %q", tt.opt, got, tt.want)
		}
	}
}

func TestWriteCompactFormats(t *testing.T) {
	recs := toBytes([]string{` {"a" : [1, 2]} `, `"<&>"`, "3\n"})
	for _, tt := range []struct {
		opt  WriteOptions
		want string
	}{
		{WriteOptions{}, "[{\"a\":[1,2]},\"<&>\",3]\n"},
		{WriteOptions{Format: FormatJSONL}, "{\"a\":[1,2]}\n\"<&>\"\n3\n"},
	} {
		path := filepath.Join(t.TempDir(), "c.json")
		writeFile(t, path, tt.opt, recs)
		if got, _ := os.ReadFile(path); string(got) != tt.want {
			t.Errorf("%+v: wrote %q, want %q", tt.opt, got, tt.want)
		}
	}
}

func TestWriteRepairsUTF8(t *testing.T) {
	for _, tt := range []struct {
		opt  WriteOptions
		want string
	}{
		{WriteOptions{}, "[\"a\\ufffd\"]\n"},
		{WriteOptions{Pretty: true}, "[\n  \"a\\ufffd\"\n]\n"},
		{WriteOptions{Format: FormatJSONL}, "\"a\\ufffd\"\n"},
	} {
		path := filepath.Join(t.TempDir(), "u.json")
		writeFile(t, path, tt.opt, [][]byte{[]byte("\"a\xff\"")})
		if got, _ := os.ReadFile(path); string(got) != tt.want {
			t.Errorf("%+v: wrote %q, want %q", tt.opt, got, tt.want)
		}
	}
}

func TestWriteInvalidRecord(t *testing.T) {
	for _, opt := range []WriteOptions{{}, {Pretty: true}, {Format: FormatJSONL}} {
		path := filepath.Join(t.TempDir(), "i.json")
		w, err := Create(path, opt)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{`{"a":`, ``, "  ", `1 2`, `{"a":1}x`, "\v1"} {
			if err := w.Write([]byte(`1`), []byte(bad)); err == nil {
				t.Errorf("%+v: Write(%q) succeeded", opt, bad)
			}
		}
		if err := w.Write([]byte(`2`)); err != nil {
			t.Fatal(err)
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		if got := readFile(t, path, FormatAuto); len(got) != 7 {
			t.Errorf("%+v: read %q, want seven records", opt, got)
		}
	}
}

func TestAbort(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.json")
	w, err := Create(path, WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if tmp := tmpEntries(t, dir); len(tmp) != 1 || !strings.HasPrefix(tmp[0], ".a.json.tmp-") {
		t.Errorf("temporary files %q, want one .a.json.tmp-*", tmp)
	}
	if err := w.Write([]byte(`1`)); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if tmp := tmpEntries(t, dir); len(tmp) != 0 {
		t.Errorf("temporary files left: %q", tmp)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("destination exists after Abort: %v", err)
	}
	if err := w.Abort(); err != nil {
		t.Errorf("second Abort = %v", err)
	}
	if err := w.Write([]byte(`1`)); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Abort = %v", err)
	}
	if err := w.Commit(); !errors.Is(err, ErrClosed) {
		t.Errorf("Commit after Abort = %v", err)
	}
}

func TestUncommittedLeavesDestination(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "d.json")
	if err := os.WriteFile(path, []byte("[\"old\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := Create(path, WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for range 1000 {
		if err := w.Write([]byte(`{"new":true}`)); err != nil {
			t.Fatal(err)
		}
	}
	// Simulate a crash: the Writer is dropped without Commit.
	if got, _ := os.ReadFile(path); string(got) != "[\"old\"]\n" {
		t.Errorf("destination changed before Commit: %q", got)
	}
	w.Abort()
}

func TestCommitReplaces(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "sub") // parents are created
	path := filepath.Join(dir, "r.json")
	writeFile(t, path, WriteOptions{}, toBytes([]string{`"old"`}))
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", info.Mode().Perm())
	}
	old, err := os.Open(path) // a reader of the old file keeps seeing it
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()

	writeFile(t, path, WriteOptions{Format: FormatJSONL, Perm: 0o600}, toBytes([]string{`"new"`}))
	if got, _ := os.ReadFile(path); string(got) != "\"new\"\n" {
		t.Errorf("after Commit: %q", got)
	}
	if got := readFile(t, path, FormatAuto); len(got) != 1 || got[0] != `"new"` {
		t.Errorf("read back %q", got)
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", info.Mode().Perm())
	}
	buf := make([]byte, 100)
	if n, _ := old.Read(buf); string(buf[:n]) != "[\"old\"]\n" {
		t.Errorf("old file handle reads %q", buf[:n])
	}
	if tmp := tmpEntries(t, dir); len(tmp) != 0 {
		t.Errorf("temporary files left: %q", tmp)
	}
}

func TestCommitFailureKeepsDestination(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.json")
	w, err := Create(path, WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o755); err != nil { // rename over a non-empty directory fails
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(path, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err == nil {
		t.Fatal("Commit over a directory succeeded")
	}
	if tmp := tmpEntries(t, dir); len(tmp) != 0 {
		t.Errorf("temporary files left: %q", tmp)
	}
	if err := w.Abort(); err != nil {
		t.Errorf("Abort after a failed Commit = %v", err)
	}
}

func TestCreateErrors(t *testing.T) {
	if _, err := Create(filepath.Join(t.TempDir(), "x.json"), WriteOptions{Format: Format(9)}); err == nil {
		t.Error("Create with an invalid format succeeded")
	}
	if _, err := Create(t.TempDir()+string(filepath.Separator), WriteOptions{}); err == nil {
		t.Error("Create of a directory path succeeded")
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(filepath.Join(file, "x.json"), WriteOptions{}); err == nil {
		t.Error("Create under a file succeeded")
	}
}
