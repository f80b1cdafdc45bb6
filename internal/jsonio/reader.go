package jsonio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/conveyor-etl/conveyor/internal/jsonscan"
	"github.com/conveyor-etl/conveyor/internal/record"
)

// RecordError reports a malformed record in a JSON Lines input. It is not
// fatal: the next call to Reader.Next continues with the following line.
type RecordError struct {
	Line  int   // 1-based line number
	Index int   // 0-based index of the record among the non-blank lines
	Err   error // what is wrong, usually a *json.SyntaxError
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("line %d: record %d: %v", e.Line, e.Index, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }

// SyntaxError reports a fatal error in the structure of a records (JSON
// array) input. Once it is returned, Reader.Next keeps returning it.
type SyntaxError struct {
	Line  int   // 1-based line number where the offending element or token starts
	Index int   // 0-based index of the element being read
	Err   error // what is wrong
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("line %d: element %d: %v", e.Line, e.Index, e.Err)
}

func (e *SyntaxError) Unwrap() error { return e.Err }

const (
	initialBufSize = 64 << 10
	maxEmptyReads  = 100
)

var utf8BOM = []byte("\xef\xbb\xbf")

// arrayState is where a Reader stands in a records input.
type arrayState int

const (
	arrayStart arrayState = iota // before '['
	arrayFirst                   // after '[': an element or ']'
	arrayNext                    // after an element: ',' or ']'
	arrayDone                    // after ']' and the trailing whitespace
)

// A Reader reads records from a JSON Lines or JSON array input.
//
// It keeps one window of the input in memory (64 KiB by default, growing
// only as far as the longest record needs), so inputs of any size stream
// through. It reads the input in chunks as large as that window allows, so
// it needs no bufio.Reader in front. A Reader is not safe for concurrent
// use.
type Reader struct {
	src      io.Reader
	format   Format
	detected bool // format resolved and a leading BOM skipped
	size     int  // initial size of buf

	buf  []byte
	pos  int   // buf[pos:end] is read but not yet consumed
	end  int   // end of the data in buf
	eof  bool  // src is exhausted
	rerr error // read error of src, returned once buf is consumed

	line  int // 1-based line number at buf[pos]
	index int // index of the next record
	state arrayState
	err   error  // sticky fatal error
	rec   []byte // the compacted record returned by Next
}

// NewReader returns a Reader of records in r, in the given format or, for
// FormatAuto, in the format detected from the first non-whitespace byte. A
// leading UTF-8 byte order mark is skipped.
func NewReader(r io.Reader, format Format) *Reader {
	return NewReaderSize(r, format, initialBufSize)
}

// NewReaderSize is NewReader with a window of at least size bytes (64 KiB
// if size is smaller): fewer, larger reads of r.
func NewReaderSize(r io.Reader, format Format, size int) *Reader {
	return &Reader{src: r, format: format, line: 1, size: max(size, initialBufSize)}
}

// Format returns the format being read. For FormatAuto it is resolved by
// the first call to Next.
func (r *Reader) Format() Format { return r.format }

// Next returns the next record, compacted as by record.AppendCompact:
// whitespace between tokens is removed and invalid UTF-8 in strings becomes
// \ufffd, while string escapes and number text stay as in the input. The
// slice is only valid until the next call to Next: it is usually a part of
// the Reader's window (a record that is already compact is not copied).
//
// At the end of the input Next returns io.EOF. For a malformed JSON Lines
// record it returns a *RecordError, and the following call continues with
// the next line. Any other error is fatal, and is returned again by every
// later call: a *SyntaxError for a broken array, or the error of the
// underlying reader.
//
// A JSON Lines input skips blank lines; an empty input has no records. A
// records input must be exactly one array: an empty input, anything after
// the closing ']', or an invalid element is a *SyntaxError.
func (r *Reader) Next() ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	if !r.detected {
		r.detect()
	}
	var rec []byte
	var err error
	if r.format == FormatRecords {
		rec, err = r.nextElement()
	} else {
		rec, err = r.nextLine()
	}
	if _, recoverable := err.(*RecordError); err != nil && err != io.EOF && !recoverable {
		r.err = err
	}
	return rec, err
}

// fill reads more input into buf, keeping the unconsumed bytes, which may
// move to the start of buf. It reports whether any bytes were added.
func (r *Reader) fill() bool {
	if r.eof || r.rerr != nil {
		return false
	}
	if r.pos > 0 {
		r.end = copy(r.buf, r.buf[r.pos:r.end])
		r.pos = 0
	}
	if r.end == len(r.buf) {
		nb := make([]byte, max(r.size, 2*len(r.buf)))
		copy(nb, r.buf[:r.end])
		r.buf = nb
	}
	for range maxEmptyReads {
		n, err := r.src.Read(r.buf[r.end:])
		r.end += n
		if err == io.EOF {
			r.eof = true
		} else if err != nil {
			r.rerr = err
		}
		if n > 0 || err != nil {
			return n > 0
		}
	}
	r.rerr = io.ErrNoProgress
	return false
}

// endErr is the error at the end of the buffered input: io.EOF or the read
// error.
func (r *Reader) endErr() error {
	if r.rerr != nil {
		return r.rerr
	}
	return io.EOF
}

// detect skips a byte order mark and resolves FormatAuto.
func (r *Reader) detect() {
	r.detected = true
	for r.end-r.pos < len(utf8BOM) && r.fill() {
	}
	if bytes.HasPrefix(r.buf[r.pos:r.end], utf8BOM) {
		r.pos += len(utf8BOM)
	}
	if r.format != FormatAuto {
		return
	}
	r.format = FormatJSONL
	for i := r.pos; ; i++ {
		if i == r.end {
			n := i - r.pos
			if !r.fill() {
				return
			}
			i = r.pos + n
		}
		if !jsonscan.IsSpace(r.buf[i]) {
			if r.buf[i] == '[' {
				r.format = FormatRecords
			}
			return
		}
	}
}

// nextLine returns the next non-blank line as a record.
func (r *Reader) nextLine() ([]byte, error) {
	for {
		var line []byte
		scanned := 0 // bytes after pos known to hold no newline
		for {
			if i := bytes.IndexByte(r.buf[r.pos+scanned:r.end], '\n'); i >= 0 {
				line = r.buf[r.pos : r.pos+scanned+i]
				r.pos += scanned + i + 1
				break
			}
			scanned = r.end - r.pos
			if !r.fill() {
				if r.rerr != nil || scanned == 0 {
					return nil, r.endErr()
				}
				line = r.buf[r.pos:r.end] // last line without a newline
				r.pos = r.end
				break
			}
		}
		lineNo := r.line
		r.line++
		if line = trimSpace(line); len(line) == 0 {
			continue
		}
		index := r.index
		r.index++
		// The usual line is already compact: return it as it is.
		switch end, res := scanValue(line, 0, true); {
		case end != len(line):
		case res == scanClean:
			return line[:len(line):len(line)], nil
		case res == scanCompact:
			if rec, ok := record.AppendCompact(r.rec[:0], line); ok {
				r.rec = rec
				return rec, nil
			}
		}
		var ok bool
		if r.rec, ok = record.AppendCompact(r.rec[:0], line); !ok {
			return nil, &RecordError{Line: lineNo, Index: index, Err: syntaxError(line)}
		}
		return r.rec, nil
	}
}

// syntaxError describes why data is not valid JSON.
func syntaxError(data []byte) error {
	var v json.RawMessage
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	return errors.New("invalid JSON")
}

// skipSpace consumes whitespace and reports whether a byte follows.
func (r *Reader) skipSpace() bool {
	for {
		for r.pos < r.end {
			switch r.buf[r.pos] {
			case '\n':
				r.line++
			case ' ', '\t', '\r':
			default:
				return true
			}
			r.pos++
		}
		if !r.fill() {
			return false
		}
	}
}

// syntaxErr returns a *SyntaxError at the current position, or the read
// error if reading failed.
func (r *Reader) syntaxErr(format string, args ...any) error {
	if r.rerr != nil {
		return r.rerr
	}
	return &SyntaxError{Line: r.line, Index: r.index, Err: fmt.Errorf(format, args...)}
}

// nextElement returns the next element of a records input.
func (r *Reader) nextElement() ([]byte, error) {
	switch r.state {
	case arrayStart:
		if !r.skipSpace() {
			return nil, r.syntaxErr("unexpected end of input, expected '['")
		}
		if c := r.buf[r.pos]; c != '[' {
			return nil, r.syntaxErr("expected '[', found %q", c)
		}
		r.pos++
		r.state = arrayFirst
		fallthrough
	case arrayFirst:
		if !r.skipSpace() {
			return nil, r.syntaxErr("unexpected end of input, expected element or ']'")
		}
		if r.buf[r.pos] == ']' {
			r.pos++
			return nil, r.finish()
		}
	case arrayNext:
		if !r.skipSpace() {
			return nil, r.syntaxErr("unexpected end of input, expected ',' or ']'")
		}
		switch c := r.buf[r.pos]; c {
		case ']':
			r.pos++
			return nil, r.finish()
		case ',':
			r.pos++
		default:
			return nil, r.syntaxErr("expected ',' or ']' after element, found %q", c)
		}
		if !r.skipSpace() {
			return nil, r.syntaxErr("unexpected end of input, expected element")
		}
		if r.buf[r.pos] == ']' {
			return nil, r.syntaxErr("unexpected ']' after ','")
		}
	case arrayDone:
		return nil, io.EOF
	}
	// The usual element is already compact and lies whole in buf: return
	// it as it is. Others (and any error) take the general path below.
	switch end, res := scanValue(r.buf[:r.end], r.pos, false); res {
	case scanClean:
		elem := r.buf[r.pos:end:end]
		r.next(end)
		return elem, nil
	case scanCompact:
		elem := r.buf[r.pos:end]
		if rec, ok := record.AppendCompact(r.rec[:0], elem); ok {
			r.rec = rec
			r.line += bytes.Count(elem, []byte{'\n'})
			r.next(end)
			return rec, nil
		}
	}
	elem, ok := r.scanElement()
	if !ok {
		return nil, r.syntaxErr("unexpected end of input in element")
	}
	var valid bool
	if r.rec, valid = record.AppendCompact(r.rec[:0], elem); !valid {
		return nil, r.syntaxErr("%w", syntaxError(elem))
	}
	r.line += bytes.Count(elem, []byte{'\n'})
	r.next(r.pos + len(elem))
	return r.rec, nil
}

// next consumes an element that ends at end.
func (r *Reader) next(end int) {
	r.pos = end
	r.index++
	r.state = arrayNext
}

// finish checks that only whitespace follows the closing ']'.
func (r *Reader) finish() error {
	r.state = arrayDone
	if r.skipSpace() {
		return r.syntaxErr("unexpected %q after the closing ']'", r.buf[r.pos])
	}
	return r.endErr()
}

// scanElement finds the end of the element starting at pos without
// consuming it: the matching bracket for an array or object, the closing
// quote for a string, and the next delimiter for a number or literal. It
// tracks only nesting depth and strings; record.AppendCompact checks the
// rest.
func (r *Reader) scanElement() (elem []byte, ok bool) {
	depth := 0
	inString := false
	i := r.pos
	for {
		b := r.buf[:r.end]
		for i < len(b) {
			if inString {
				k := bytes.IndexByte(b[i:], '"')
				if k < 0 {
					i = len(b)
					break
				}
				i += k + 1
				if !escaped(b[r.pos : i-1]) {
					inString = false
					if depth == 0 {
						return b[r.pos:i], true
					}
				}
				continue
			}
			switch b[i] {
			case '"':
				inString = true
			case '{', '[':
				depth++
			case '}', ']':
				if depth == 0 {
					return b[r.pos:i], true
				}
				if depth--; depth == 0 {
					return b[r.pos : i+1], true
				}
			case ',', ' ', '\t', '\r', '\n':
				if depth == 0 {
					return b[r.pos:i], true
				}
			}
			i++
		}
		n := i - r.pos
		if !r.fill() {
			return nil, false
		}
		i = r.pos + n
	}
}

// escaped reports whether s ends in an odd number of backslashes, which
// escape the quote that follows s.
func escaped(s []byte) bool {
	n := 0
	for n < len(s) && s[len(s)-1-n] == '\\' {
		n++
	}
	return n%2 == 1
}
