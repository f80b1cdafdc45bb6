package jsonio

import "github.com/conveyor-etl/conveyor/internal/jsonscan"

// scanResult is what scanValue found: a jsonscan.Result, in which the
// repair case also stands for whitespace between tokens.
type scanResult = jsonscan.Result

const (
	// scanClean: a valid value with no whitespace and only valid UTF-8, so
	// its bytes are already what record.AppendCompact would make of them.
	scanClean = jsonscan.Clean
	// scanCompact: a valid value with whitespace between tokens or invalid
	// UTF-8 in strings: record.AppendCompact must copy it.
	scanCompact = jsonscan.Repair
	// scanShort: the input ends before the value does (or before the byte
	// that ends a top-level number or literal).
	scanShort = jsonscan.Short
	// scanOther: invalid, or nested deeper than scanValue tracks; the
	// general path (with its error messages) decides.
	scanOther = jsonscan.Invalid
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
		if e := jsonscan.QuickString(src, i+1); e > 0 {
			i = e
		} else if i, r = jsonscan.String(src, i+1); r != scanClean {
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
		if i < len(src) && jsonscan.IsSpace(src[i]) {
			res = scanCompact
			i = jsonscan.SkipSpace(src, i)
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
		i, r = jsonscan.Literal(src, i, "true")
		scalar = true
	case 'f':
		i, r = jsonscan.Literal(src, i, "false")
		scalar = true
	case 'n':
		i, r = jsonscan.Literal(src, i, "null")
		scalar = true
	default:
		i, r = jsonscan.Number(src, i)
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
	if i < len(src) && jsonscan.IsSpace(src[i]) {
		res = scanCompact
		i = jsonscan.SkipSpace(src, i)
	}
	if i == len(src) {
		return i, scanShort
	}
	scalar = false
	if stack&1 != 0 {
		switch src[i] {
		case ',':
			i++
			if i < len(src) && jsonscan.IsSpace(src[i]) {
				res = scanCompact
				i = jsonscan.SkipSpace(src, i)
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
		if i < len(src) && jsonscan.IsSpace(src[i]) {
			res = scanCompact
			i = jsonscan.SkipSpace(src, i)
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
	if e := jsonscan.QuickString(src, i+1); e > 0 {
		i = e
	} else if i, r = jsonscan.String(src, i+1); r != scanClean {
		if r != scanCompact {
			return i, r
		}
		res = scanCompact
	}
	if i < len(src) && src[i] == ':' { // the usual colon
		i++
	} else {
		if i < len(src) && jsonscan.IsSpace(src[i]) {
			res = scanCompact
			i = jsonscan.SkipSpace(src, i)
		}
		if i == len(src) {
			return i, scanShort
		}
		if src[i] != ':' {
			return i, scanOther
		}
		i++
	}
	if i < len(src) && jsonscan.IsSpace(src[i]) {
		res = scanCompact
		i = jsonscan.SkipSpace(src, i)
	}
	goto value
}
