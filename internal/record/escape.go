package record

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// safe reports the ASCII bytes that may appear unescaped in a JSON string.
// Bytes >= utf8.RuneSelf are false and need a UTF-8 check.
var safe = func() (t [256]bool) {
	for b := ' '; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\'
	}
	return t
}()

// SkipSafe returns the index of the first byte of s at or after i that may
// not appear unescaped in a JSON string (a control byte, '"', '\\') or is
// not ASCII (and needs a UTF-8 check). It tests eight bytes x at a time: while all bytes of x are safe (at
// least 0x20, below 0x80, and neither '"' nor '\\'), no subtraction below
// borrows and no high bit gets set; otherwise the first unsafe byte is the
// lowest one whose high bit is set.
func SkipSafe(s []byte, i int) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for ; i+8 <= len(s); i += 8 {
		x := binary.LittleEndian.Uint64(s[i:])
		if t := (x | (x - ones*' ') | ((x ^ (ones * '"')) - ones) | ((x ^ (ones * '\\')) - ones)) & highs; t != 0 {
			return i + bits.TrailingZeros64(t)/8
		}
	}
	for i < len(s) && safe[s[i]] {
		i++
	}
	return i
}

// appendString appends s as a JSON string, escaped exactly like
// encoding/json with SetEscapeHTML(false): the short escapes \" \\ \b \f \n
// \r \t, \u00XX for other control bytes, \u2028 and \u2029 for those runes,
// and \ufffd for each byte that is not part of valid UTF-8.
func appendString(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if i = SkipSafe(s, i); i == len(s) {
			break
		}
		if b := s[i]; b < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
