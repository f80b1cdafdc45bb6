package jsonio

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf8"

	"github.com/conveyor-etl/conveyor/internal/record"
)

// scanResult is what scanValue found.
type scanResult int

const (
	// scanClean: a valid value with no whitespace and only valid UTF-8, so
	// its bytes are already what record.AppendCompact would make of them.
	scanClean scanResult = iota
	// scanCompact: a valid value with whitespace between tokens or invalid
	// UTF-8 in strings: record.AppendCompact must copy it.
	scanCompact
	// scanShort: the input ends before the value does (or before the byte
	// that ends a top-level number or literal).
	scanShort
	// scanOther: invalid, or nested deeper than scanValue tracks; the
	// general path (with its error messages) decides.
	scanOther
)

// maxScanDepth is the nesting scanValue handles; deeper values take the
// general path.
const maxScanDepth = 64

// scanValue scans the JSON value starting at src[i], which is not
// whitespace, validating it by the rules of json.Valid, and returns the
// index after it. It finds the same end as Reader.scanElement for a valid
// value: a string, array or object ends at its closing quote or bracket, and
// a top-level number or literal must be followed by one of the bytes that
// end an element (, ] } or whitespace), or by the end of src if endOK. It
// only ever reads src, in one pass.
func scanValue(src []byte, i int, endOK bool) (int, scanResult) {
	res := scanClean
	var stack uint64 // one bit per open container, 1 for an object
	depth := 0
	scalar := false // the value just scanned is a number or a literal
	var r scanResult
value:
	if i >= len(src) {
		return i, scanShort
	}
	scalar = false
	switch c := src[i]; c {
	case '"':
		if e := quickString(src, i+1); e > 0 {
			i = e
		} else if i, r = scanString(src, i+1); r != scanClean {
			if r != scanCompact {
				return i, r
			}
			res = scanCompact
		}
	case '{', '[':
		if depth == maxScanDepth {
			return i, scanOther
		}
		depth++
		stack <<= 1
		if c == '{' {
			stack |= 1
		}
		i++
		if i < len(src) && isSpace(src[i]) {
			res = scanCompact
			i = skipWS(src, i)
		}
		if i == len(src) {
			return i, scanShort
		}
		if c == '{' {
			if src[i] == '}' {
				i++
				depth--
				stack >>= 1
				break
			}
			goto key
		}
		if src[i] == ']' {
			i++
			depth--
			stack >>= 1
			break
		}
		goto value
	case 't':
		i, r = scanLiteral(src, i, "true")
		scalar = true
	case 'f':
		i, r = scanLiteral(src, i, "false")
		scalar = true
	case 'n':
		i, r = scanLiteral(src, i, "null")
		scalar = true
	default:
		i, r = scanNumber(src, i)
		scalar = true
	}
	if r != scanClean && r != scanCompact {
		return i, r
	}
next: // after a value
	if depth == 0 {
		if !scalar {
			return i, res
		}
		if i == len(src) {
			if endOK {
				return i, res
			}
			return i, scanShort
		}
		switch src[i] {
		case ',', ']', '}', ' ', '\t', '\r', '\n':
			return i, res
		}
		return i, scanOther
	}
	if i < len(src) && isSpace(src[i]) {
		res = scanCompact
		i = skipWS(src, i)
	}
	if i == len(src) {
		return i, scanShort
	}
	scalar = false
	if stack&1 != 0 {
		switch src[i] {
		case ',':
			i++
			if i < len(src) && isSpace(src[i]) {
				res = scanCompact
				i = skipWS(src, i)
			}
			goto key
		case '}':
			i++
			depth--
			stack >>= 1
			goto next
		}
		return i, scanOther
	}
	switch src[i] {
	case ',':
		i++
		if i < len(src) && isSpace(src[i]) {
			res = scanCompact
			i = skipWS(src, i)
		}
		goto value
	case ']':
		i++
		depth--
		stack >>= 1
		goto next
	}
	return i, scanOther
key: // a member key, then ':', then its value
	if i == len(src) {
		return i, scanShort
	}
	if src[i] != '"' {
		return i, scanOther
	}
	if e := quickString(src, i+1); e > 0 {
		i = e
	} else if i, r = scanString(src, i+1); r != scanClean {
		if r != scanCompact {
			return i, r
		}
		res = scanCompact
	}
	if i < len(src) && src[i] == ':' { // the usual colon
		i++
	} else {
		if i < len(src) && isSpace(src[i]) {
			res = scanCompact
			i = skipWS(src, i)
		}
		if i == len(src) {
			return i, scanShort
		}
		if src[i] != ':' {
			return i, scanOther
		}
		i++
	}
	if i < len(src) && isSpace(src[i]) {
		res = scanCompact
		i = skipWS(src, i)
	}
	goto value
}

// skipWS returns the index of the first non-whitespace byte at or after i.
func skipWS(src []byte, i int) int {
	for i < len(src) && isSpace(src[i]) {
		i++
	}
	return i
}

// unsafeBytes sets the high bit of each byte of x that is not safe, and
// maybe of bytes after one that is not.
func unsafeBytes(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	return (x | (x - ones*' ') | ((x ^ (ones * '"')) - ones) | ((x ^ (ones * '\\')) - ones)) & highs
}

// quickString returns the index after the closing quote of a string whose
// rest, from i, is at most 7 safe bytes and its closing quote, or -1.
func quickString(src []byte, i int) int {
	if i+8 > len(src) {
		return -1
	}
	t := unsafeBytes(binary.LittleEndian.Uint64(src[i:]))
	if t == 0 {
		return -1
	}
	i += bits.TrailingZeros64(t) / 8
	if src[i] != '"' {
		return -1
	}
	return i + 1
}

// scanString scans the rest of a string from i, just after its opening
// quote, and returns the index after its closing quote. It reports
// scanCompact for invalid UTF-8 (which AppendCompact repairs).
func scanString(src []byte, i int) (int, scanResult) {
	res := scanClean
	for {
		if i = record.SkipSafe(src, i); i == len(src) {
			return i, scanShort
		}
		switch b := src[i]; {
		case b == '"':
			return i + 1, res
		case b == '\\':
			if i+1 == len(src) {
				return i, scanShort
			}
			switch src[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(src) {
					return i, scanShort
				}
				if !isHex4(src[i+2 : i+6]) {
					return i, scanOther
				}
				i += 6
			default:
				return i, scanOther
			}
		case b < utf8.RuneSelf: // a control byte
			return i, scanOther
		default:
			if !utf8.FullRune(src[i:]) {
				return i, scanShort
			}
			r, size := utf8.DecodeRune(src[i:])
			if r == utf8.RuneError && size == 1 {
				res = scanCompact
			}
			i += size
		}
	}
}

func isHex4(h []byte) bool {
	for _, b := range h {
		if !('0' <= b && b <= '9') && !('a' <= b && b <= 'f') && !('A' <= b && b <= 'F') {
			return false
		}
	}
	return true
}

// scanLiteral scans lit at src[i].
func scanLiteral(src []byte, i int, lit string) (int, scanResult) {
	n := min(len(lit), len(src)-i)
	if string(src[i:i+n]) != lit[:n] {
		return i, scanOther
	}
	if n < len(lit) {
		return i + n, scanShort
	}
	return i + n, scanClean
}

// scanNumber scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at i.
func scanNumber(src []byte, i int) (int, scanResult) {
	if i < len(src) && src[i] == '-' {
		i++
	}
	if i == len(src) {
		return i, scanShort
	}
	switch c := src[i]; {
	case c == '0':
		i++
	case '1' <= c && c <= '9':
		i = skipDigits(src, i+1)
	default:
		return i, scanOther
	}
	if i < len(src) && src[i] == '.' {
		i++
		if i == len(src) {
			return i, scanShort
		}
		if !isDigit(src[i]) {
			return i, scanOther
		}
		i = skipDigits(src, i)
	}
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		i++
		if i < len(src) && (src[i] == '+' || src[i] == '-') {
			i++
		}
		if i == len(src) {
			return i, scanShort
		}
		if !isDigit(src[i]) {
			return i, scanOther
		}
		i = skipDigits(src, i)
	}
	return i, scanClean
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

func skipDigits(src []byte, i int) int {
	for i < len(src) && isDigit(src[i]) {
		i++
	}
	return i
}
