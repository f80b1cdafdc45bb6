package jsonfile

import "errors"

// The errors json.read and json.write fail with, for embedders to branch on
// with errors.Is. Each is wrapped into an error whose text names the stage,
// the file and what to change; the sentinels' own texts never show.
var (
	// ErrInputNotFound: json.read's file does not exist (errors.Is also
	// matches fs.ErrNotExist).
	ErrInputNotFound = errors.New("json.read: input file not found")

	// ErrInvalidRecord: json.read met a record that is not valid JSON, or
	// is larger than max_record_bytes, and skip_invalid is false. The
	// error names the line.
	ErrInvalidRecord = errors.New("json.read: invalid record")

	// ErrCannotAppend: json.write was to append to a file whose format is
	// not the stage's (a JSON array to JSON Lines, say).
	ErrCannotAppend = errors.New("json.write: cannot append to the file")
)
