package jsonio

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
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
	// Append keeps the records already in the destination and adds the new
	// ones after them. A records file is rewritten whole: Create copies its
	// elements into the temporary file, which Commit renames over it. A JSON
	// Lines file is appended to by Commit. Either way the destination keeps
	// its previous content until Commit.
	Append bool
	// Warn, if set, is told when Commit repairs the end of a JSON Lines
	// destination before appending to it (see Commit).
	Warn func(msg string)
}

// ErrClosed is returned by a Writer's methods after Commit or Abort.
var ErrClosed = errors.New("jsonio: writer already committed or aborted")

// ErrCannotAppend is wrapped by the error of Create when opt.Append is set
// and the destination holds something the Writer cannot append to.
var ErrCannotAppend = errors.New("cannot append")

// A Writer writes records to a temporary file next to its destination and
// moves them into place on Commit, so the destination always holds either
// its previous content or a complete file. A Writer is not safe for
// concurrent use.
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

// fsync makes a file's or a directory's content durable; tests replace it
// to see what is synced.
var fsync = (*os.File).Sync

// Create starts writing the file at path, creating its parent directories.
// The records go to a temporary file ".<name>.tmp-<random>" in the same
// directory until Commit moves them into path. Temporary files of path
// left by a run that crashed are removed first.
//
// With opt.Append, a records destination must hold one JSON array (or be
// empty or missing): its elements are copied into the temporary file now.
// A JSON Lines destination must not hold a JSON array.
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
	w := &Writer{path: path, opt: opt, f: f, w: bufio.NewWriterSize(f, 64<<10)}
	if opt.Append {
		if err := w.takeExisting(); err != nil {
			w.Abort()
			return nil, fmt.Errorf("jsonio: %w", err)
		}
	}
	return w, nil
}

// takeExisting prepares an append. The elements of a records destination
// are copied into the temporary file (re-encoded in this Writer's layout);
// a JSON Lines destination is only checked, since Commit appends to it.
func (w *Writer) takeExisting() error {
	f, err := os.Open(w.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	cannot := func(why string, args ...any) error {
		return fmt.Errorf("%w to %s: "+why, append([]any{ErrCannotAppend, w.path}, args...)...)
	}
	if w.opt.Format == FormatJSONL {
		format, err := DetectFormat(f)
		if err == nil && format == FormatRecords {
			err = cannot("it holds a JSON array, and JSON Lines appended to it would make it invalid")
		}
		return err
	}
	r := NewReaderSize(f, FormatAuto, copyBufSize)
	for {
		rec, err := r.Next()
		var se *SyntaxError
		switch {
		case err == io.EOF:
			return nil
		case r.Format() != FormatRecords:
			return cannot("it holds JSON Lines, not the JSON array that format records appends to")
		case errors.As(err, &se):
			return cannot("it is not a valid JSON array: %w", err)
		case err != nil:
			return err
		}
		if err := w.Write(rec); err != nil {
			return err
		}
	}
}

// copyBufSize is the read window used to copy an existing file.
const copyBufSize = 256 << 10

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
		return dst[:start], fmt.Errorf("record is not valid JSON: %w", checkJSON(rec))
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

// Commit completes the file and makes it durable before returning. A new
// or replaced file is synced, renamed over the destination, and the
// directory synced. An append to a JSON Lines destination copies the new
// records to its end and syncs it; should that fail, the destination is
// cut back to its previous length. If Commit fails, the temporary file is
// removed and the destination keeps its previous content.
//
// Before appending to JSON Lines, Commit makes the destination end with a
// newline. A last line without one is either a complete record (a file
// written by another program), which gets its newline, or the torn end of
// an append that a crash interrupted, which is cut off and reported to
// opt.Warn: its records were not committed by the crashed run, so they
// come again.
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
		if w.opt.Append && w.opt.Format == FormatJSONL {
			err = w.appendLines()
		} else {
			err = w.replace()
		}
	}
	if err != nil {
		w.f.Close()
		os.Remove(w.f.Name())
		return fmt.Errorf("jsonio: commit %s: %w", w.path, err)
	}
	return nil
}

// replace syncs the temporary file, renames it over the destination and
// syncs the directory.
func (w *Writer) replace() error {
	err := fsync(w.f)
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(w.f.Name(), w.path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(w.path))
	}
	return err
}

// appendLines appends the temporary file to a JSON Lines destination and
// removes it, or renames it into place when there is no destination yet.
func (w *Writer) appendLines() error {
	dst, err := os.OpenFile(w.path, os.O_RDWR|os.O_APPEND, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return w.replace()
	}
	if err != nil {
		return err
	}
	if w.n > 0 {
		err = w.appendTo(dst)
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		w.f.Close()
		err = os.Remove(w.f.Name())
	}
	return err
}

// appendTo copies the temporary file to the end of dst and syncs dst. On
// failure dst is cut back to its length before the copy.
func (w *Writer) appendTo(dst *os.File) error {
	if err := w.repairTail(dst); err != nil {
		return err
	}
	st, err := dst.Stat()
	if err != nil {
		return err
	}
	if _, err = w.f.Seek(0, io.SeekStart); err == nil {
		_, err = io.Copy(dst, w.f)
	}
	if err == nil {
		err = fsync(dst)
	}
	if err != nil {
		_ = dst.Truncate(st.Size())
	}
	return err
}

// repairTail makes a JSON Lines file end with a newline (see Commit).
func (w *Writer) repairTail(f *os.File) error {
	start, size, err := lastLine(f)
	if err != nil || start == size {
		return err
	}
	r := NewReader(io.NewSectionReader(f, start, size-start), FormatJSONL)
	if _, err := r.Next(); err == nil || err == io.EOF {
		_, err := f.Write([]byte{'\n'})
		return err
	} else if _, torn := err.(*RecordError); !torn {
		return err
	}
	if w.opt.Warn != nil {
		w.opt.Warn(fmt.Sprintf("%s ended in %d bytes of an incomplete line, as an append cut short by a crash leaves: removed them before appending", w.path, size-start))
	}
	return f.Truncate(start)
}

// lastLine returns where the text after f's last newline starts, and f's
// size; start == size when f is empty or ends with a newline.
func lastLine(f *os.File) (start, size int64, err error) {
	st, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	size = st.Size()
	buf := make([]byte, 0, 64<<10)
	for end := size; end > 0; end -= int64(len(buf)) {
		buf = buf[:min(int64(cap(buf)), end)]
		if _, err := f.ReadAt(buf, end-int64(len(buf))); err != nil {
			return 0, 0, err
		}
		if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
			return end - int64(len(buf)) + int64(i) + 1, size, nil
		}
	}
	return 0, size, nil
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
	err = fsync(d)
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
