package record

import (
	"bytes"
	"unicode/utf8"
)

// maxDepth is the deepest nesting accepted, the same limit as encoding/json.
const maxDepth = 10000

// Grammar states of AppendCompact: what may come next.
const (
	wantValue        = iota // a value
	wantValueOrClose        // a value or ']' (just after '[')
	wantKey                 // a member key (after ',' in an object)
	wantKeyOrClose          // a member key or '}' (just after '{')
	wantColon               // ':' after a key
	wantCommaOrClose        // ',' or the closing bracket after a value
)

// AppendCompact appends src to dst with the whitespace between tokens
// removed, like json.Compact, and reports whether src is a single valid JSON
// value (with optional surrounding whitespace) by the rules of json.Valid,
// including its nesting limit of 10000. Unlike json.Compact it replaces each
// byte of invalid UTF-8 inside strings by \ufffd, so the output is always
// valid UTF-8; string escapes and number text are kept as they are. If src
// is invalid, AppendCompact returns the (possibly grown) buffer truncated to
// len(dst), and false; use encoding/json to describe the error.
//
// AppendCompact validates and copies in a single pass, several times faster
// than json.Valid and json.Compact together. Its scanner is iterative and
// keeps the open containers in a bit stack, so it runs in linear time and
// constant goroutine stack space whatever the nesting, and it allocates
// nothing beyond growing dst unless the nesting is deeper than 256. Runs of
// bytes without whitespace are copied with a single append.
func AppendCompact(dst, src []byte) ([]byte, bool) {
	return appendCompact(dst, src, false)
}

// appendCompact implements AppendCompact. With renameMeta set it also puts
// RenamePrefix before the name of each member of a top-level object that is
// reserved for Enrich's metadata (see isReserved).
func appendCompact(dst, src []byte, renameMeta bool) (out []byte, ok bool) {
	start := len(dst)
	i := skipSpace(src, 0)
	mark := i // src[mark:i] is scanned but not yet copied to dst
	// stack has one bit per open container: 1 for an object, 0 for an
	// array. It starts on the goroutine stack and moves to the heap only for
	// nesting deeper than 256.
	var stackBuf [4]uint64
	stack := stackBuf[:]
	depth := 0
	inObject := false // the innermost open container is an object
	state := wantValue
	for i < len(src) {
		c := src[i]
		if c <= ' ' && isSpace(c) {
			dst = append(dst, src[mark:i]...)
			i = skipSpace(src, i+1)
			mark = i
			continue
		}
		switch state {
		case wantValue, wantValueOrClose:
			switch c {
			case '{', '[':
				if depth == maxDepth {
					return dst[:start], false
				}
				if depth/64 == len(stack) {
					stack = append(stack, 0)
				}
				inObject = c == '{'
				if inObject {
					stack[depth/64] |= 1 << (depth % 64)
					state = wantKeyOrClose
				} else {
					stack[depth/64] &^= 1 << (depth % 64)
					state = wantValueOrClose
				}
				depth++
				i++
				continue
			case ']':
				if state != wantValueOrClose {
					return dst[:start], false
				}
				depth--
				inObject = isObjectAt(stack, depth-1)
				i++
			case '"':
				end, repair := stringEnd(src, i)
				if end < 0 {
					return dst[:start], false
				}
				if repair {
					dst = appendRepaired(append(dst, src[mark:i]...), src[i:end])
					mark = end
				}
				i = end
			case 't':
				i = scanLiteral(src, i, "true")
			case 'f':
				i = scanLiteral(src, i, "false")
			case 'n':
				i = scanLiteral(src, i, "null")
			default:
				i = scanNumber(src, i)
			}
			if i < 0 {
				return dst[:start], false
			}
			if i < len(src) && src[i] == ',' && depth > 0 { // shortcut for the usual comma
				i++
				state = wantValue
				if inObject {
					state = wantKey
				}
				continue
			}
			state = wantCommaOrClose
		case wantKey, wantKeyOrClose:
			switch {
			case c == '"':
				end, repair := stringEnd(src, i)
				if end < 0 {
					return dst[:start], false
				}
				if repair {
					dst = appendRepaired(append(dst, src[mark:i]...), src[i:end])
					mark = end
				}
				if renameMeta && depth == 1 && !repair && end-i >= len(`"`+KeyField+`"`) && isReserved(src[i:end]) {
					// A reserved name is ASCII, so it needed no repair.
					dst = append(dst, src[mark:i+1]...)
					dst = append(dst, RenamePrefix...)
					mark = i + 1
				}
				i = end
				state = wantColon
				if i < len(src) && src[i] == ':' { // shortcut for the usual colon
					i++
					state = wantValue
				}
			case c == '}' && state == wantKeyOrClose:
				depth--
				inObject = isObjectAt(stack, depth-1)
				i++
				state = wantCommaOrClose
			default:
				return dst[:start], false
			}
		case wantColon:
			if c != ':' {
				return dst[:start], false
			}
			i++
			state = wantValue
		case wantCommaOrClose:
			if depth == 0 {
				return dst[:start], false // data after the value
			}
			switch {
			case c == ',' && inObject:
				state = wantKey
			case c == ',':
				state = wantValue
			case c == '}' && inObject, c == ']' && !inObject:
				depth--
				inObject = isObjectAt(stack, depth-1)
			default:
				return dst[:start], false
			}
			i++
		}
	}
	if state != wantCommaOrClose || depth != 0 {
		return dst[:start], false
	}
	return append(dst, src[mark:i]...), true
}

// isObjectAt reports whether the container at the given depth in the bit
// stack is an object; it is false for depth -1 (the top level).
func isObjectAt(stack []uint64, depth int) bool {
	return depth >= 0 && stack[depth/64]&(1<<(depth%64)) != 0
}

func isSpace(b byte) bool {
	return b == ' ' || b == '\n' || b == '\r' || b == '\t'
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

// skipSpace returns the index of the first non-whitespace byte at or after i.
func skipSpace(src []byte, i int) int {
	for i < len(src) && isSpace(src[i]) {
		i++
	}
	return i
}

// scanString scans the rest of a string from i, which is after its opening
// quote and not within an escape, and returns the index after its closing
// quote, or -1 if it is invalid. repair reports invalid UTF-8 in the string.
func scanString(src []byte, i int) (end int, repair bool) {
	for i < len(src) {
		if i = SkipSafe(src, i); i == len(src) {
			break
		}
		switch b := src[i]; {
		case b == '"':
			return i + 1, repair
		case b == '\\':
			if i+1 == len(src) {
				return -1, false
			}
			switch src[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(src) || !isHex4(src[i+2:i+6]) {
					return -1, false
				}
				i += 6
			default:
				return -1, false
			}
		case b < utf8.RuneSelf: // a control character
			return -1, false
		default:
			r, size := utf8.DecodeRune(src[i:])
			if r == utf8.RuneError && size == 1 {
				repair = true
			}
			i += size
		}
	}
	return -1, false
}

// appendRepaired appends the valid string s, replacing each byte of invalid
// UTF-8 by \ufffd.
func appendRepaired(dst, s []byte) []byte {
	start := 0
	for i := 0; i < len(s); {
		if s[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			start = i + 1
		}
		i += size
	}
	return append(dst, s[start:]...)
}

func isHex4(h []byte) bool {
	for _, b := range h {
		if !isDigit(b) && !('a' <= b && b <= 'f') && !('A' <= b && b <= 'F') {
			return false
		}
	}
	return true
}

// scanLiteral returns the index after lit at i, or -1.
func scanLiteral(src []byte, i int, lit string) int {
	if !bytes.HasPrefix(src[i:], []byte(lit)) {
		return -1
	}
	return i + len(lit)
}

// scanNumber scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at i and
// returns the index after it, or -1.
func scanNumber(src []byte, i int) int {
	if i < len(src) && src[i] == '-' {
		i++
	}
	switch {
	case i < len(src) && src[i] == '0':
		i++
	case i < len(src) && '1' <= src[i] && src[i] <= '9':
		i = skipDigits(src, i+1)
	default:
		return -1
	}
	if i < len(src) && src[i] == '.' {
		i++
		if i == len(src) || !isDigit(src[i]) {
			return -1
		}
		i = skipDigits(src, i)
	}
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		i++
		if i < len(src) && (src[i] == '+' || src[i] == '-') {
			i++
		}
		if i == len(src) || !isDigit(src[i]) {
			return -1
		}
		i = skipDigits(src, i)
	}
	return i
}

func skipDigits(src []byte, i int) int {
	for i < len(src) && isDigit(src[i]) {
		i++
	}
	return i
}

// stringEnd returns the end of the string starting at src[i] (the opening
// quote), -1 when it is invalid, and whether its bytes need repairing. The
// usual string, with no escapes or special bytes, ends at the first quote.
func stringEnd(src []byte, i int) (end int, repair bool) {
	end = SkipSafe(src, i+1)
	if end < len(src) && src[end] == '"' {
		return end + 1, false
	}
	return scanString(src, end)
}
