// Package jsonscan holds the JSON token scanners that record (AppendCompact,
// Enrich) and jsonio (the Reader's one-pass fast path) share: strings,
// numbers, literals, whitespace and the eight-bytes-at-a-time test for
// bytes a JSON string may hold as they are.
//
// Each scanner starts at an index into a byte slice and returns the index
// after the token, with a Result that says whether the token was complete
// and valid by the rules of json.Valid. A scanner never reads past the end
// of its input: a token cut short by it is Short, so a streaming caller can
// read more and scan again, while a caller holding the whole input treats
// Short as Invalid.
package jsonscan

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
)

// Result is what a scanner found.
type Result uint8

const (
	// Clean: a valid token whose bytes are valid UTF-8.
	Clean Result = iota
	// Repair: a valid string holding invalid UTF-8 (which record's
	// AppendCompact replaces by \ufffd).
	Repair
	// Short: the input ends before the token does.
	Short
	// Invalid: not a valid token.
	Invalid
)

// IsSpace reports the JSON whitespace bytes.
func IsSpace(b byte) bool {
	return b == ' ' || b == '\n' || b == '\r' || b == '\t'
}

// SkipSpace returns the index of the first non-whitespace byte at or after
// i.
func SkipSpace(src []byte, i int) int {
	for i < len(src) && IsSpace(src[i]) {
		i++
	}
	return i
}

// safe reports the ASCII bytes that may appear unescaped in a JSON string.
// Bytes >= utf8.RuneSelf are false and need a UTF-8 check.
var safe = func() (t [256]bool) {
	for b := ' '; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\'
	}
	return t
}()

// unsafeBytes sets the high bit of each byte of x, read little-endian, that
// is not safe (see SkipSafe), and maybe of bytes after one that is not:
// while all bytes of x are safe (at least 0x20, below 0x80, and neither '"'
// nor '\\'), no subtraction below borrows and no high bit gets set;
// otherwise the first unsafe byte is the lowest one whose high bit is set.
func unsafeBytes(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	return (x | (x - ones*' ') | ((x ^ (ones * '"')) - ones) | ((x ^ (ones * '\\')) - ones)) & highs
}

// SkipSafe returns the index of the first byte of s at or after i that may
// not appear unescaped in a JSON string (a control byte, '"', '\\') or is
// not ASCII (and needs a UTF-8 check). It tests eight bytes at a time.
func SkipSafe(s []byte, i int) int {
	for ; i+8 <= len(s); i += 8 {
		if t := unsafeBytes(binary.LittleEndian.Uint64(s[i:])); t != 0 {
			return i + bits.TrailingZeros64(t)/8
		}
	}
	for i < len(s) && safe[s[i]] {
		i++
	}
	return i
}

// QuickString returns the index after the closing quote of a string whose
// rest, from i (after its opening quote), is at most 7 safe bytes and its
// closing quote, or -1: the usual short key or value in one step.
func QuickString(src []byte, i int) int {
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

// String scans the rest of a string from i, which is after its opening
// quote and not within an escape, and returns the index after its closing
// quote. It reports Repair for a valid string holding invalid UTF-8; for
// Short and Invalid the index is where scanning stopped.
func String(src []byte, i int) (int, Result) {
	res := Clean
	for {
		if i = SkipSafe(src, i); i == len(src) {
			return i, Short
		}
		switch b := src[i]; {
		case b == '"':
			return i + 1, res
		case b == '\\':
			if i+1 == len(src) {
				return i, Short
			}
			switch src[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(src) {
					return i, Short
				}
				if !isHex4(src[i+2 : i+6]) {
					return i, Invalid
				}
				i += 6
			default:
				return i, Invalid
			}
		case b < utf8.RuneSelf: // a control byte
			return i, Invalid
		default:
			if !utf8.FullRune(src[i:]) {
				return i, Short
			}
			r, size := utf8.DecodeRune(src[i:])
			if r == utf8.RuneError && size == 1 {
				res = Repair
			}
			i += size
		}
	}
}

func isHex4(h []byte) bool {
	for _, b := range h {
		if !isDigit(b) && !('a' <= b && b <= 'f') && !('A' <= b && b <= 'F') {
			return false
		}
	}
	return true
}

// Literal scans lit ("true", "false" or "null") at src[i].
func Literal(src []byte, i int, lit string) (int, Result) {
	n := min(len(lit), len(src)-i)
	if string(src[i:i+n]) != lit[:n] {
		return i, Invalid
	}
	if n < len(lit) {
		return i + n, Short
	}
	return i + n, Clean
}

// Number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at src[i].
// The number ends at the first byte that cannot continue it; whether that
// byte may follow a number is the caller's question.
func Number(src []byte, i int) (int, Result) {
	if i < len(src) && src[i] == '-' {
		i++
	}
	if i == len(src) {
		return i, Short
	}
	switch c := src[i]; {
	case c == '0':
		i++
	case '1' <= c && c <= '9':
		i = skipDigits(src, i+1)
	default:
		return i, Invalid
	}
	var r Result
	if i < len(src) && src[i] == '.' {
		if i, r = digits(src, i+1); r != Clean {
			return i, r
		}
	}
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		i++
		if i < len(src) && (src[i] == '+' || src[i] == '-') {
			i++
		}
		if i, r = digits(src, i); r != Clean {
			return i, r
		}
	}
	return i, Clean
}

// digits scans one or more digits at src[i].
func digits(src []byte, i int) (int, Result) {
	if i == len(src) {
		return i, Short
	}
	if !isDigit(src[i]) {
		return i, Invalid
	}
	return skipDigits(src, i), Clean
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

func skipDigits(src []byte, i int) int {
	for i < len(src) && isDigit(src[i]) {
		i++
	}
	return i
}
