package jsonio

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/conveyor-etl/conveyor/internal/record"
)

// WriteOptions configures Create.
type WriteOptions struct {
	// Format is FormatRecords (also used for FormatAuto) or FormatJSONL.
	Format Format
	// Pretty indents a records file by two spaces per level, in the layout
	// of json.MarshalIndent(records, "", "  "). JSON Lines ignore it.
	Pretty bool
	// Perm is the permission of the written file, applied exactly (the
	// umask does not apply); 0 means 0644.
	Perm os.FileMode
}

// ErrClosed is returned by a Writer's methods after Commit or Abort.
var ErrClosed = errors.New("jsonio: writer already committed or aborted")

// A Writer writes records to a temporary file next to its destination and
// moves it into place on Commit, so the destination always holds either its
// previous content or a complete file. A Writer is not safe for concurrent
// use.
type Writer struct {
	path   string
	opt    WriteOptions
	f      *os.File
	w      *bufio.Writer
	buf    []byte       // scratch for encoding one record
	indent bytes.Buffer // scratch for json.Indent
	n      int          // records written
	err    error        // sticky I/O error
	closed bool
}

// removeStale removes the files in dir whose names start with prefix.
func removeStale(dir, prefix string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) && e.Type().IsRegular() {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// Create starts writing the file at path, creating its parent directories.
// The records go to a temporary file ".<name>.tmp-<random>" in the same
// directory until Commit renames it over path. Temporary files of path
// left by a run that crashed are removed first.
func Create(path string, opt WriteOptions) (*Writer, error) {
	switch opt.Format {
	case FormatAuto:
		opt.Format = FormatRecords
	case FormatRecords, FormatJSONL:
	default:
		return nil, fmt.Errorf("jsonio: invalid format %v", opt.Format)
	}
	if opt.Perm == 0 {
		opt.Perm = 0o644
	}
	dir, name := filepath.Split(path)
	if name == "" {
		return nil, fmt.Errorf("jsonio: create %q: not a file name", path)
	}
	if dir == "" {
		dir = "."
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("jsonio: %w", err)
	}
	removeStale(dir, "."+name+".tmp-")
	f, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("jsonio: %w", err)
	}
	if err := f.Chmod(opt.Perm); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("jsonio: %w", err)
	}
	return &Writer{path: path, opt: opt, f: f, w: bufio.NewWriterSize(f, 64<<10)}, nil
}

// Write appends records, each a JSON value. They are compacted as by
// record.AppendCompact (so invalid UTF-8 in strings becomes \ufffd), or
// indented when Pretty is set for a records file. An invalid record is not
// written: Write returns an error naming it and the Writer stays usable;
// the records before it in the same call are written. Errors writing the
// file are sticky.
func (w *Writer) Write(records ...[]byte) error {
	if w.closed {
		return ErrClosed
	}
	if w.err != nil {
		return w.err
	}
	for _, rec := range records {
		var err error
		if w.buf, err = w.encode(w.buf[:0], rec); err != nil {
			return fmt.Errorf("jsonio: record %d: %w", w.n, err)
		}
		if _, err := w.w.Write(w.buf); err != nil {
			w.err = fmt.Errorf("jsonio: %w", err)
			return w.err
		}
		w.n++
	}
	return nil
}

// encode appends rec as the next record of the file, preceded by its
// separator.
func (w *Writer) encode(dst, rec []byte) ([]byte, error) {
	start := len(dst)
	switch {
	case w.opt.Format == FormatJSONL:
	case w.n == 0 && w.opt.Pretty:
		dst = append(dst, "[\n  "...)
	case w.n == 0:
		dst = append(dst, '[')
	case w.opt.Pretty:
		dst = append(dst, ",\n  "...)
	default:
		dst = append(dst, ',')
	}
	recStart := len(dst)
	dst, ok := record.AppendCompact(dst, rec)
	if !ok {
		return dst[:start], syntaxError(rec)
	}
	switch {
	case w.opt.Format == FormatJSONL:
		dst = append(dst, '\n')
	case w.opt.Pretty:
		w.indent.Reset()
		if err := json.Indent(&w.indent, dst[recStart:], "  ", "  "); err != nil {
			return dst[:start], err
		}
		dst = append(dst[:recStart], w.indent.Bytes()...)
	}
	return dst, nil
}

// Commit completes the file, flushes and syncs it, renames it over the
// destination and syncs the directory. If it fails before the rename, the
// temporary file is removed and the destination is untouched.
func (w *Writer) Commit() error {
	if w.closed {
		return ErrClosed
	}
	w.closed = true
	err := w.err
	if err == nil {
		err = w.finish()
	}
	if err == nil {
		err = w.f.Sync()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(w.f.Name(), w.path)
	}
	if err != nil {
		os.Remove(w.f.Name())
		return fmt.Errorf("jsonio: commit %s: %w", w.path, err)
	}
	if err := syncDir(filepath.Dir(w.path)); err != nil {
		return fmt.Errorf("jsonio: commit %s: %w", w.path, err)
	}
	return nil
}

// finish writes the end of the document and flushes it.
func (w *Writer) finish() error {
	if w.opt.Format == FormatRecords {
		end := "]\n"
		switch {
		case w.n == 0:
			end = "[]\n"
		case w.opt.Pretty:
			end = "\n]\n"
		}
		if _, err := w.w.WriteString(end); err != nil {
			return err
		}
	}
	return w.w.Flush()
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Abort discards the temporary file and leaves the destination untouched.
// It does nothing after Commit or an earlier Abort, so it can be deferred.
func (w *Writer) Abort() error {
	if w.closed {
		return nil
	}
	w.closed = true
	w.f.Close()
	if err := os.Remove(w.f.Name()); err != nil {
		return fmt.Errorf("jsonio: abort: %w", err)
	}
	return nil
}
