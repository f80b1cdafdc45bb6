// Package jsonio reads and writes files of JSON records in two layouts: a
// single JSON array of records (FormatRecords) and JSON Lines, one record
// per line (FormatJSONL).
//
// A Reader streams records one at a time with a bounded buffer, so files
// with millions of records are never loaded whole. It validates each record
// in one pass and returns it as it is when it is already compact (the usual
// case), or compacted by record.AppendCompact; SetMaxRecordBytes bounds the
// memory one record can take. A Writer writes to a temporary file and, on
// Commit, replaces the destination atomically or appends to it, and syncs
// it.
package jsonio

import (
	"fmt"
	"strings"

	"github.com/conveyor-etl/conveyor/internal/jsonscan"
)

// Format is the layout of a JSON records file.
type Format int

// The supported formats.
const (
	// FormatAuto detects the format when reading: an input whose first
	// non-whitespace byte is '[' is FormatRecords, anything else
	// FormatJSONL. When writing it means FormatRecords.
	FormatAuto Format = iota
	// FormatRecords is one JSON array whose elements are the records.
	FormatRecords
	// FormatJSONL is one JSON value per line (JSON Lines, NDJSON).
	FormatJSONL
)

// ParseFormat parses a format name: "" or "auto", "records" or "array",
// "jsonl" or "ndjson". Case is ignored.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "", "auto":
		return FormatAuto, nil
	case "records", "array":
		return FormatRecords, nil
	case "jsonl", "ndjson":
		return FormatJSONL, nil
	}
	return FormatAuto, fmt.Errorf("jsonio: unknown format %q (want auto, records, array, jsonl or ndjson)", s)
}

// String returns the canonical name of f, as accepted by ParseFormat.
func (f Format) String() string {
	switch f {
	case FormatAuto:
		return "auto"
	case FormatRecords:
		return "records"
	case FormatJSONL:
		return "jsonl"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// trimSpace removes JSON whitespace from both ends of b.
func trimSpace(b []byte) []byte {
	for len(b) > 0 && jsonscan.IsSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && jsonscan.IsSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}
