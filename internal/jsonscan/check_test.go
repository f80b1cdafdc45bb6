package jsonscan

import (
	"encoding/json"
	"testing"
)

// TestCheckMessages: Check's message says, in words, what was expected and
// what was found, at a 1-based line, column and offset.
func TestCheckMessages(t *testing.T) {
	for _, tc := range []struct {
		src, want string
		offset    int
	}{
		{`{"a":1 "b":2}`, `line 1, column 8: expected ',' or '}' after an object value, found '"'`, 8},
		{"{\n  \"a\" 1}", `line 2, column 7: expected ':' after an object key, found '1'`, 9},
		{`{"a":1,}`, `line 1, column 8: expected a string key after ',' in an object, found '}'`, 8},
		{`{a:1}`, `line 1, column 2: expected a string key or '}' in an object, found 'a'`, 2},
		{`{"a":}`, `line 1, column 6: expected a value after ':', found '}'`, 6},
		{`[1,]`, `line 1, column 4: expected a value after ',' in an array, found ']'`, 4},
		{`[1 2]`, `line 1, column 4: expected ',' or ']' after an array element, found '2'`, 4},
		{`[1,`, `line 1, column 4: expected a value after ',' in an array, found the end of the input`, 4},
		{``, `line 1, column 1: expected a value, found the end of the input`, 1},
		{`{"a": tru}`, `line 1, column 7: expected true, found "tru}"`, 7},
		{`nul`, `line 1, column 1: expected null, found "nul"`, 1},
		{`[-]`, `line 1, column 3: expected a digit after '-' in a number, found ']'`, 3},
		{`1.e5`, `line 1, column 3: expected a digit after '.' in a number, found 'e'`, 3},
		{`1e+`, `line 1, column 4: expected a digit in the exponent in a number, found the end of the input`, 4},
		{`["ab`, `line 1, column 5: expected '"' to end the string that starts at column 2, found the end of the input`, 5},
		{`"a\x"`, `line 1, column 3: expected an escape (\" \\ \/ \b \f \n \r \t or \uXXXX) after '\' in a string, found 'x'`, 3},
		{`"\u12g4"`, `line 1, column 2: expected 4 hex digits after \u in a string, found "\\u12g4"`, 2},
		{"\"a\tb\"", `line 1, column 3: expected '"' to end the string or a character, found control character U+0009 (write it escaped, e.g. \n or \u0000)`, 3},
		{`{} x`, `line 1, column 4: expected the end of the input after the value, found 'x'`, 4},
		{`[é]`, `line 1, column 2: expected a value or ']' in an array (an object, array, string, number, true, false or null), found 'é'`, 2},
	} {
		err := Check([]byte(tc.src))
		if err == nil || err.Error() != tc.want || err.Offset != tc.offset {
			t.Errorf("Check(%q) = %v (offset %v), want %s (offset %d)", tc.src, err, offsetOf(err), tc.want, tc.offset)
		}
		if json.Valid([]byte(tc.src)) {
			t.Errorf("%q is valid JSON: not a test of an error", tc.src)
		}
	}
	for _, ok := range []string{`{}`, ` [1, -2.5e+3, "a\u00e9\n", true, false, null, {"a": [[]]}] `, `"\ud800"`, "\"\xff\""} {
		if err := Check([]byte(ok)); err != nil {
			t.Errorf("Check(%q) = %v, want nil", ok, err)
		}
	}
}

func offsetOf(e *Error) any {
	if e == nil {
		return nil
	}
	return e.Offset
}

// FuzzCheck: Check says no exactly when json.Valid does, and its position
// lies within the input (or one past it).
func FuzzCheck(f *testing.F) {
	for _, s := range []string{`{"a":[1,2,{"b":null}]}`, `[1,]`, `"\u00e9"`, `-0.5e-3`, "{\"a\"\n:\ttrue}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		err := Check(src)
		if (err == nil) != json.Valid(src) {
			t.Fatalf("Check(%q) = %v, json.Valid = %v", src, err, json.Valid(src))
		}
		if err != nil && (err.Offset < 1 || err.Offset > len(src)+1 || err.Line < 1 || err.Column < 1) {
			t.Fatalf("Check(%q): position %+v out of range", src, err)
		}
	})
}
