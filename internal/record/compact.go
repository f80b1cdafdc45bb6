package record

import (
	"unicode/utf8"

	"github.com/conveyor-etl/conveyor/internal/jsonscan"
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
	i := jsonscan.SkipSpace(src, 0)
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
		if c <= ' ' && jsonscan.IsSpace(c) {
			dst = append(dst, src[mark:i]...)
			i = jsonscan.SkipSpace(src, i+1)
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
				i = whole(jsonscan.Literal(src, i, "true"))
			case 'f':
				i = whole(jsonscan.Literal(src, i, "false"))
			case 'n':
				i = whole(jsonscan.Literal(src, i, "null"))
			default:
				i = whole(jsonscan.Number(src, i))
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

// whole returns the end of a token that jsonscan scanned in an input held
// whole, or -1 unless the token is valid: there a Short token is invalid.
func whole(end int, r jsonscan.Result) int {
	if r != jsonscan.Clean {
		return -1
	}
	return end
}

// stringEnd returns the end of the string starting at src[i] (the opening
// quote), -1 when it is invalid, and whether its bytes need repairing. The
// usual string, with no escapes or special bytes, ends at the first quote.
func stringEnd(src []byte, i int) (end int, repair bool) {
	end = jsonscan.SkipSafe(src, i+1)
	if end < len(src) && src[end] == '"' {
		return end + 1, false
	}
	end, r := jsonscan.String(src, end)
	if r > jsonscan.Repair {
		return -1, false
	}
	return end, r == jsonscan.Repair
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
