package jsonio

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/conveyor-etl/conveyor/internal/jsonscan"
	"github.com/conveyor-etl/conveyor/internal/record"
)

// RecordError reports a record that was skipped: a malformed line of a
// JSON Lines input, or a record of either format larger than the limit set
// by SetMaxRecordBytes. It is not fatal: the next call to Reader.Next
// continues with the following record.
type RecordError struct {
	Line   int   // 1-based line number where the record starts
	Column int   // 1-based byte column of the offending byte of a malformed record; 0 for a record too large
	Index  int   // 0-based index of the record among the non-blank lines or the elements
	Err    error // what is wrong: what was expected and found, or a *TooLargeError
}

// Error is "line L, column C: record N: what", with N counted from 1 like
// lines and columns.
func (e *RecordError) Error() string {
	return fmt.Sprintf("%s: record %d: %v", position(e.Line, e.Column), e.Index+1, e.Err)
}

// position is "line L, column C", or "line L" for column 0.
func position(line, column int) string {
	if column == 0 {
		return fmt.Sprintf("line %d", line)
	}
	return fmt.Sprintf("line %d, column %d", line, column)
}

func (e *RecordError) Unwrap() error { return e.Err }

// TooLargeError is the Err of a *RecordError for a record larger than the
// limit set by SetMaxRecordBytes.
type TooLargeError struct {
	Size  int64 // the record's bytes in the input: its line, or its element's text
	Limit int
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("record of %d bytes is larger than the limit of %d bytes", e.Size, e.Limit)
}

// SyntaxError reports a fatal error in the structure of a records (JSON
// array) input. Once it is returned, Reader.Next keeps returning it.
type SyntaxError struct {
	Line   int   // 1-based line number of the offending byte
	Column int   // 1-based byte column of the offending byte
	Index  int   // 0-based index of the element being read
	Err    error // what was expected and found
}

// Error is "line L, column C: element N: what", with N counted from 1 like
// lines and columns.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s: element %d: %v", position(e.Line, e.Column), e.Index+1, e.Err)
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
// only as far as the longest record needs, and no further than
// SetMaxRecordBytes allows), so inputs of any size stream through. It reads the input in chunks as large as that window allows, so
// it needs no bufio.Reader in front. A Reader is not safe for concurrent
// use.
type Reader struct {
	src      io.Reader
	format   Format
	detected bool // format resolved and a leading BOM skipped
	size     int  // initial size of buf
	max      int  // largest record kept, in bytes; 0 for no limit

	buf  []byte
	pos  int   // buf[pos:end] is read but not yet consumed
	end  int   // end of the data in buf
	eof  bool  // src is exhausted
	rerr error // read error of src, returned once buf is consumed

	line      int   // 1-based line number at buf[pos]
	base      int64 // offset in the input of buf[0]
	lineStart int64 // offset in the input of the start of line, for columns
	index     int   // index of the next record
	state     arrayState
	err       error  // sticky fatal error
	rec       []byte // the compacted record returned by Next
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

// SetMaxRecordBytes limits the size of a record in the input to n bytes (n
// <= 0: no limit, the default). The size is that of the record's line in a
// JSON Lines input, without the newline, and of its element's text in a
// records input. A larger record is read past without being held whole:
// Next returns a *RecordError wrapping a *TooLargeError for it and goes on
// with the next record. The window then never grows beyond n+1 bytes or
// its initial size, whichever is larger.
func (r *Reader) SetMaxRecordBytes(n int) { r.max = max(n, 0) }

// tooLarge reports whether n bytes of one record are over the limit.
func (r *Reader) tooLarge(n int) bool { return r.max > 0 && n > r.max }

// skipped returns the error for a record over the limit that started on
// line and has been read past.
func (r *Reader) skipped(line int, size int64) error {
	index := r.index
	r.index++
	return &RecordError{Line: line, Index: index, Err: &TooLargeError{Size: size, Limit: r.max}}
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
// record, or a record over the size limit, it returns a *RecordError, and
// the following call continues with the next record. Any other error is fatal, and is returned again by every
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
// move to the start of buf. It reports whether any bytes were added. A
// full buf grows, up to the size limit: the callers stop keeping a record
// once it is over the limit, before buf would have to grow past it.
func (r *Reader) fill() bool {
	if r.eof || r.rerr != nil {
		return false
	}
	if r.pos > 0 {
		r.base += int64(r.pos)
		r.end = copy(r.buf, r.buf[r.pos:r.end])
		r.pos = 0
	}
	if r.end == len(r.buf) {
		n := 2 * len(r.buf)
		if r.max > 0 {
			n = min(n, r.max+1)
		}
		nb := make([]byte, max(r.size, n))
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
		r.lineStart = int64(len(utf8BOM)) // editors show no column for it
	}
	if r.format != FormatAuto {
		return
	}
	r.format = FormatJSONL
	if r.skipSpace() && r.buf[r.pos] == '[' {
		r.format = FormatRecords
	}
}

// DetectFormat reads src up to its first byte that is not whitespace (or
// a byte order mark) and returns the format a FormatAuto Reader would
// read: FormatRecords if that byte is '[', FormatJSONL otherwise, for an
// empty input too.
func DetectFormat(src io.Reader) (Format, error) {
	r := NewReader(src, FormatAuto)
	r.detect()
	return r.format, r.rerr
}

// nextLine returns the next non-blank line as a record.
func (r *Reader) nextLine() ([]byte, error) {
	for {
		line, size, err := r.readLine()
		if err != nil {
			return nil, err
		}
		lineNo := r.line
		r.line++
		if size > 0 {
			return nil, r.skipped(lineNo, size)
		}
		raw := line
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
			e := checkJSON(raw)
			return nil, &RecordError{Line: lineNo, Column: e.Column, Index: index, Err: errors.New(e.Msg)}
		}
		return r.rec, nil
	}
}

// readLine consumes the next line and returns it without its newline. A
// line over the size limit is read past instead: readLine returns its
// size.
func (r *Reader) readLine() (line []byte, tooLarge int64, err error) {
	scanned := 0 // bytes after pos known to hold no newline
	for {
		if i := bytes.IndexByte(r.buf[r.pos+scanned:r.end], '\n'); i >= 0 {
			line = r.buf[r.pos : r.pos+scanned+i]
			r.pos += scanned + i + 1
			break
		}
		scanned = r.end - r.pos
		if r.tooLarge(scanned) {
			return r.skipLine()
		}
		if !r.fill() {
			if r.rerr != nil || scanned == 0 {
				return nil, 0, r.endErr()
			}
			line = r.buf[r.pos:r.end] // last line without a newline
			r.pos = r.end
			break
		}
	}
	if r.tooLarge(len(line)) {
		return nil, int64(len(line)), nil
	}
	return line, 0, nil
}

// skipLine consumes the rest of the line that starts at pos, keeping no
// more of it than one window, and returns its length.
func (r *Reader) skipLine() (line []byte, size int64, err error) {
	for {
		if i := bytes.IndexByte(r.buf[r.pos:r.end], '\n'); i >= 0 {
			r.pos += i + 1
			return nil, size + int64(i), nil
		}
		size += int64(r.end - r.pos)
		r.pos = r.end
		if !r.fill() {
			if r.rerr != nil {
				return nil, 0, r.rerr
			}
			return nil, size, nil // the last line, without a newline
		}
	}
}

// checkJSON describes why data, which record.AppendCompact rejected, is
// not valid JSON.
func checkJSON(data []byte) *jsonscan.Error {
	if e := jsonscan.Check(data); e != nil {
		return e
	}
	return &jsonscan.Error{Offset: 1, Line: 1, Column: 1, Msg: "invalid JSON"} // AppendCompact and Check disagree
}

// countLines advances line past the newlines of b, which starts at buf[at].
func (r *Reader) countLines(b []byte, at int) {
	if n := bytes.Count(b, []byte{'\n'}); n > 0 {
		r.line += n
		r.lineStart = r.base + int64(at+bytes.LastIndexByte(b, '\n')+1)
	}
}

// column is the 1-based byte column of buf[i].
func (r *Reader) column(i int) int { return int(r.base+int64(i)-r.lineStart) + 1 }

// skipSpace consumes whitespace and reports whether a byte follows.
func (r *Reader) skipSpace() bool {
	for {
		for r.pos < r.end {
			switch r.buf[r.pos] {
			case '\n':
				r.line++
				r.lineStart = r.base + int64(r.pos) + 1
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

// syntaxErr returns a *SyntaxError at the current position saying what was
// expected there and what was found, or the read error if reading failed.
func (r *Reader) syntaxErr(expected string) error {
	if r.rerr != nil {
		return r.rerr
	}
	found := "the end of the input"
	if r.pos < r.end {
		found = jsonscan.Found(r.buf[:r.end], r.pos)
	}
	return &SyntaxError{Line: r.line, Column: r.column(r.pos), Index: r.index, Err: fmt.Errorf("expected %s, found %s", expected, found)}
}

// elemErr returns the *SyntaxError of the element at pos, elem, which is
// not valid JSON (or cut short by the end of the input), or the read error.
func (r *Reader) elemErr(elem []byte) error {
	if r.rerr != nil {
		return r.rerr
	}
	if len(elem) == 0 { // a delimiter where the element should start
		return r.syntaxErr("a record in the array")
	}
	e := jsonscan.Check(elem)
	if e == nil { // valid so far, but cut short: a number's end is its delimiter
		nl := bytes.LastIndexByte(elem, '\n')
		e = &jsonscan.Error{Line: 1 + bytes.Count(elem, []byte{'\n'}), Column: len(elem) - nl,
			Msg: "expected ',' or ']' after an array element, found the end of the input"}
	}
	col := e.Column
	if e.Line == 1 {
		col += r.column(r.pos) - 1
	}
	return &SyntaxError{Line: r.line + e.Line - 1, Column: col, Index: r.index, Err: errors.New(e.Msg)}
}

// nextElement returns the next element of a records input.
func (r *Reader) nextElement() ([]byte, error) {
	switch r.state {
	case arrayStart:
		if !r.skipSpace() || r.buf[r.pos] != '[' {
			return nil, r.syntaxErr("'[' to start the array of records")
		}
		r.pos++
		r.state = arrayFirst
		fallthrough
	case arrayFirst:
		if !r.skipSpace() {
			return nil, r.syntaxErr("a record or ']' in the array")
		}
		if r.buf[r.pos] == ']' {
			r.pos++
			return nil, r.finish()
		}
	case arrayNext:
		if !r.skipSpace() {
			return nil, r.syntaxErr("',' or ']' after an array element")
		}
		switch r.buf[r.pos] {
		case ']':
			r.pos++
			return nil, r.finish()
		case ',':
			r.pos++
		default:
			return nil, r.syntaxErr("',' or ']' after an array element")
		}
		if !r.skipSpace() || r.buf[r.pos] == ']' {
			return nil, r.syntaxErr("a record after ',' in the array")
		}
	case arrayDone:
		return nil, io.EOF
	}
	// The usual element is already compact and lies whole in buf: return
	// it as it is. Others (and any error, and an element over the size
	// limit) take the general path below.
	end, res := scanValue(r.buf[:r.end], r.pos, false)
	if r.tooLarge(end - r.pos) {
		res = scanOther
	}
	switch res {
	case scanClean:
		elem := r.buf[r.pos:end:end]
		r.next(end)
		return elem, nil
	case scanCompact:
		elem := r.buf[r.pos:end]
		if rec, ok := record.AppendCompact(r.rec[:0], elem); ok {
			r.rec = rec
			r.countLines(elem, r.pos)
			r.next(end)
			return rec, nil
		}
	}
	line := r.line
	elem, size, ok := r.scanElement()
	if !ok {
		return nil, r.elemErr(r.buf[r.pos:r.end])
	}
	if size > 0 {
		err := r.skipped(line, size)
		r.state = arrayNext
		return nil, err
	}
	var valid bool
	if r.rec, valid = record.AppendCompact(r.rec[:0], elem); !valid {
		return nil, r.elemErr(elem)
	}
	r.countLines(elem, r.pos)
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
		return r.syntaxErr("the end of the input after the array's closing ']'")
	}
	return r.endErr()
}

// scanElement finds the end of the element starting at pos and returns the
// element, not consumed. An element over the size limit is consumed
// instead, without keeping more of it than one window, and scanElement
// returns its size. ok is false when the input ends inside the element.
func (r *Reader) scanElement() (elem []byte, tooLarge int64, ok bool) {
	var s elemScan
	i := r.pos
	for {
		if k := s.scan(r.buf[i:r.end]); k >= 0 {
			elem = r.buf[r.pos : i+k]
			if !r.tooLarge(len(elem)) {
				return elem, 0, true
			}
			r.countLines(elem, r.pos)
			r.pos += len(elem)
			return nil, int64(len(elem)), true
		}
		n := r.end - r.pos
		if r.tooLarge(n) {
			return r.skipElement(&s)
		}
		if !r.fill() {
			return nil, 0, false
		}
		i = r.pos + n
	}
}

// skipElement consumes the rest of an element over the size limit whose
// start, buf[pos:end], s has scanned, and returns the element's size.
func (r *Reader) skipElement(s *elemScan) (elem []byte, size int64, ok bool) {
	for {
		r.countLines(r.buf[r.pos:r.end], r.pos)
		size += int64(r.end - r.pos)
		r.pos = r.end
		if !r.fill() {
			return nil, 0, false
		}
		if k := s.scan(r.buf[r.pos:r.end]); k >= 0 {
			r.countLines(r.buf[r.pos:r.pos+k], r.pos)
			r.pos += k
			return nil, size + int64(k), true
		}
	}
}

// elemScan follows an element read in pieces far enough to find its end:
// the matching bracket for an array or object, the closing quote for a
// string, and the next delimiter for a number or literal. It tracks only
// nesting depth and strings; record.AppendCompact checks the rest.
type elemScan struct {
	depth    int
	inString bool
	escape   bool // inside a string, after a backslash
}

// scan reads b, the next bytes of the element, and returns the index in b
// just past the element's end, or -1 if the element goes on after b.
func (s *elemScan) scan(b []byte) int {
	for i := 0; i < len(b); i++ {
		if s.inString {
			if s.escape {
				s.escape = false
				continue
			}
			k := bytes.IndexAny(b[i:], `"\`)
			if k < 0 {
				return -1
			}
			if i += k; b[i] == '\\' {
				s.escape = true
				continue
			}
			s.inString = false
			if s.depth == 0 {
				return i + 1
			}
			continue
		}
		switch b[i] {
		case '"':
			s.inString = true
		case '{', '[':
			s.depth++
		case '}', ']':
			if s.depth == 0 {
				return i
			}
			if s.depth--; s.depth == 0 {
				return i + 1
			}
		case ',', ' ', '\t', '\r', '\n':
			if s.depth == 0 {
				return i
			}
		}
	}
	return -1
}
