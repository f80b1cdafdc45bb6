package jsonscan

import (
	"bytes"
	"testing"
)

func TestSkipSafe(t *testing.T) {
	for n := 0; n <= 17; n++ {
		for pos := 0; pos < n; pos++ {
			for b := 0; b < 256; b++ {
				s := bytes.Repeat([]byte("a"), n)
				s[pos] = byte(b)
				want := n
				if !safe[b] {
					want = pos
				}
				if got := SkipSafe(s, 0); got != want {
					t.Fatalf("SkipSafe(%q) = %d, want %d", s, got, want)
				}
			}
		}
	}
}

func TestQuickString(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int
	}{
		{`"abc"xxxx`, 5},
		{`""xxxxxxx`, 2},
		{`"abcdefg"`, 9},
		{`"abcdefgh"`, -1}, // more than 7 bytes: the general path
		{`"ab\"c"xxx`, -1},
		{"\"a\xc3\xa9\"xxxx", -1},
		{`"abc"`, -1}, // fewer than 8 bytes to test
	} {
		if got := QuickString([]byte(tt.in), 1); got != tt.want {
			t.Errorf("QuickString(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

// Each scanner tells a complete token from one cut short by the end of the
// input (Short) and from an invalid one.
func TestScanners(t *testing.T) {
	str := func(s []byte) (int, Result) { return String(s, 1) }
	lit := func(l string) func([]byte) (int, Result) {
		return func(s []byte) (int, Result) { return Literal(s, 0, l) }
	}
	num := func(s []byte) (int, Result) { return Number(s, 0) }
	for _, tt := range []struct {
		name string
		scan func([]byte) (int, Result)
		in   string
		end  int
		res  Result
	}{
		{"string", str, `"abc"`, 5, Clean},
		{"string escapes", str, `"\"\\\/\b\f\n\r\t\u00e9\uD83D"x`, 30, Clean},
		{"string utf8", str, `"é€😀",`, 11, Clean},
		{"string invalid utf8", str, "\"a\xffb\xed\xa0\x80\"", 8, Repair},
		{"string open", str, `"abc`, 4, Short},
		{"string open escape", str, `"ab\`, 3, Short},
		{"string open unicode escape", str, `"ab\u00`, 3, Short},
		{"string cut rune", str, "\"a\xe2\x82", 2, Short},
		{"string bad escape", str, `"a\x"`, 2, Invalid},
		{"string bad unicode escape", str, `"a\u12g4"`, 2, Invalid},
		{"string control byte", str, "\"a\nb\"", 2, Invalid},
		{"true", lit("true"), `true,`, 4, Clean},
		{"true cut", lit("true"), `tr`, 2, Short},
		{"true bad", lit("true"), `trUe`, 0, Invalid},
		{"null", lit("null"), `null`, 4, Clean},
		{"number", num, `-12.50e+3,`, 9, Clean},
		{"zero", num, `0123`, 1, Clean}, // the number is 0; what follows is the caller's
		{"number minus", num, `-`, 1, Short},
		{"number dot", num, `1.`, 2, Short},
		{"number exp", num, `1e+`, 3, Short},
		{"number no digit", num, `-x`, 1, Invalid},
		{"number dot no digit", num, `1.e`, 2, Invalid},
		{"number exp no digit", num, `1ex`, 2, Invalid},
		{"number plus", num, `+1`, 0, Invalid},
	} {
		end, res := tt.scan([]byte(tt.in))
		if end != tt.end || res != tt.res {
			t.Errorf("%s: scan(%q) = %d, %d; want %d, %d", tt.name, tt.in, end, res, tt.end, tt.res)
		}
	}
}

func TestSkipSpace(t *testing.T) {
	if got := SkipSpace([]byte(" \t\r\n x "), 0); got != 5 {
		t.Errorf("SkipSpace = %d, want 5", got)
	}
	if got := SkipSpace([]byte("  "), 1); got != 2 {
		t.Errorf("SkipSpace at the end = %d, want 2", got)
	}
	for b := 0; b < 256; b++ {
		if IsSpace(byte(b)) != bytes.ContainsRune([]byte(" \t\r\n"), rune(b)) {
			t.Errorf("IsSpace(%#x) = %v", b, IsSpace(byte(b)))
		}
	}
}
