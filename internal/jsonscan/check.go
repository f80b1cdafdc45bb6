package jsonscan

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Error says why a JSON text is not valid, where, and what was expected
// there, in words: `expected ',' or '}' after an object value, found '"'`.
type Error struct {
	// Offset is the 1-based byte offset of the offending byte in the text
	// (one past its end when the text ends too soon).
	Offset int
	// Line and Column are 1-based; Column counts bytes from the start of
	// the line, as Go's compiler does.
	Line, Column int
	// Msg is what was expected and what was found instead.
	Msg string
}

// Error is "line L, column C: Msg".
func (e *Error) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Msg)
}

// maxCheckDepth bounds the nesting Check follows.
const maxCheckDepth = 10000

// Check returns nil if src is exactly one JSON value (surrounding
// whitespace allowed) by the rules of json.Valid, and otherwise an *Error at
// the first byte that makes it invalid. Check is for error messages: it
// runs after a fast scanner has said no.
func Check(src []byte) *Error {
	c := checker{src: src}
	i := c.value(SkipSpace(src, 0), "", 0)
	if c.err == nil {
		if i = SkipSpace(src, i); i < len(src) {
			c.fail(i, "expected the end of the input after the value")
		}
	}
	return c.err
}

// checker walks a JSON text and keeps the first error.
type checker struct {
	src []byte
	err *Error
}

// found describes what is at src[i]: a quoted character, or the end.
func (c *checker) found(i int) string { return Found(c.src, i) }

// Found describes the character at src[i] for an error message: quoted
// ('x', '\n'), a byte that is not UTF-8 in hex, or "the end of the input"
// past the end of src.
func Found(src []byte, i int) string {
	if i >= len(src) {
		return "the end of the input"
	}
	r, size := utf8.DecodeRune(src[i:])
	if r == utf8.RuneError && size <= 1 {
		return fmt.Sprintf("byte 0x%02x", src[i])
	}
	return strconv.QuoteRune(r)
}

// fail records an error at src[i]: "expected ..., found X".
func (c *checker) fail(i int, expected string) {
	c.failMsg(i, expected+", found "+c.found(i))
}

// failMsg records an error at src[i] with msg as it is.
func (c *checker) failMsg(i int, msg string) {
	if c.err != nil {
		return
	}
	line, start := 1, 0
	for k := 0; k < i && k < len(c.src); k++ {
		if c.src[k] == '\n' {
			line, start = line+1, k+1
		}
	}
	c.err = &Error{Offset: i + 1, Line: line, Column: i - start + 1, Msg: msg}
}

// value checks the value at src[i] and returns the index after it; where
// says where the value stands, for the message when there is none.
func (c *checker) value(i int, where string, depth int) int {
	if depth > maxCheckDepth {
		c.failMsg(i, fmt.Sprintf("nested deeper than %d arrays and objects", maxCheckDepth))
		return i
	}
	if i >= len(c.src) {
		c.fail(i, "expected a value"+where)
		return i
	}
	switch b := c.src[i]; b {
	case '{':
		return c.object(i+1, depth)
	case '[':
		return c.array(i+1, depth)
	case '"':
		return c.str(i)
	case 't', 'f', 'n':
		lit := map[byte]string{'t': "true", 'f': "false", 'n': "null"}[b]
		if end, r := Literal(c.src, i, lit); r == Clean {
			return end
		}
		c.failMsg(i, fmt.Sprintf("expected %s, found %q", lit, c.word(i)))
		return i
	default:
		if b == '-' || isDigit(b) {
			return c.number(i)
		}
		if b == ']' || b == '}' || b == ',' || b == ':' {
			c.fail(i, "expected a value"+where)
		} else {
			c.fail(i, "expected a value"+where+" (an object, array, string, number, true, false or null)")
		}
		return i
	}
}

// word is the text at src[i] up to the next delimiter, at most 20 bytes.
func (c *checker) word(i int) string {
	end := i
	for end < len(c.src) && end-i < 20 && !IsSpace(c.src[end]) && c.src[end] != ',' && c.src[end] != ']' && c.src[end] != '}' {
		end++
	}
	if end < len(c.src) && (c.src[end] == ']' || c.src[end] == '}') {
		end++ // "tru}" shows where the word stopped
	}
	return string(c.src[i:end])
}

func (c *checker) object(i, depth int) int {
	i = SkipSpace(c.src, i)
	if i < len(c.src) && c.src[i] == '}' {
		return i + 1
	}
	expectKey := "expected a string key or '}' in an object"
	for c.err == nil {
		if i >= len(c.src) || c.src[i] != '"' {
			c.fail(i, expectKey)
			return i
		}
		if i = SkipSpace(c.src, c.str(i)); c.err != nil {
			return i
		}
		if i >= len(c.src) || c.src[i] != ':' {
			c.fail(i, "expected ':' after an object key")
			return i
		}
		if i = SkipSpace(c.src, c.value(SkipSpace(c.src, i+1), " after ':'", depth+1)); c.err != nil {
			return i
		}
		switch {
		case i < len(c.src) && c.src[i] == '}':
			return i + 1
		case i < len(c.src) && c.src[i] == ',':
			i = SkipSpace(c.src, i+1)
			expectKey = "expected a string key after ',' in an object"
		default:
			c.fail(i, "expected ',' or '}' after an object value")
			return i
		}
	}
	return i
}

func (c *checker) array(i, depth int) int {
	i = SkipSpace(c.src, i)
	if i < len(c.src) && c.src[i] == ']' {
		return i + 1
	}
	where := " or ']' in an array"
	for c.err == nil {
		if i = SkipSpace(c.src, c.value(i, where, depth+1)); c.err != nil {
			return i
		}
		switch {
		case i < len(c.src) && c.src[i] == ']':
			return i + 1
		case i < len(c.src) && c.src[i] == ',':
			i = SkipSpace(c.src, i+1)
			where = " after ',' in an array"
		default:
			c.fail(i, "expected ',' or ']' after an array element")
			return i
		}
	}
	return i
}

// str checks the string whose opening quote is at src[i].
func (c *checker) str(i int) int {
	end, r := String(c.src, i+1)
	switch {
	case r == Clean || r == Repair:
		return end
	case end >= len(c.src):
		c.fail(end, `expected '"' to end the string that starts at column `+strconv.Itoa(c.column(i)))
	case c.src[end] == '\\' && end+1 < len(c.src) && c.src[end+1] == 'u':
		c.failMsg(end, fmt.Sprintf(`expected 4 hex digits after \u in a string, found %q`, c.src[end:min(end+6, len(c.src))]))
	case c.src[end] == '\\' && end+1 < len(c.src):
		c.failMsg(end, fmt.Sprintf(`expected an escape (\" \\ \/ \b \f \n \r \t or \uXXXX) after '\' in a string, found %s`, c.found(end+1)))
	case c.src[end] == '\\':
		c.fail(end+1, `expected an escape after '\' in a string`)
	default: // a control byte, or a multi-byte character cut short
		if c.src[end] < utf8.RuneSelf {
			c.failMsg(end, fmt.Sprintf(`expected '"' to end the string or a character, found control character %U (write it escaped, e.g. \n or \u0000)`, rune(c.src[end])))
		} else {
			c.fail(len(c.src), `expected '"' to end the string`)
		}
	}
	return end
}

// column is the 1-based column of src[i].
func (c *checker) column(i int) int {
	k := i
	for k > 0 && c.src[k-1] != '\n' {
		k--
	}
	return i - k + 1
}

// number checks the number at src[i], which is '-' or a digit.
func (c *checker) number(i int) int {
	end, r := Number(c.src, i)
	if r == Clean {
		return end
	}
	what := "a digit"
	switch {
	case end > i && c.src[end-1] == '-' && end-1 == i:
		what = "a digit after '-'"
	case end > i && c.src[end-1] == '.':
		what = "a digit after '.'"
	case end > i && (c.src[end-1] == 'e' || c.src[end-1] == 'E' || c.src[end-1] == '+' || c.src[end-1] == '-'):
		what = "a digit in the exponent"
	}
	c.fail(end, "expected "+what+" in a number")
	return end
}
