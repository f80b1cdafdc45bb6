package config

import (
	"fmt"
	"strings"
)

// suggestion returns ` (did you mean "x"?)` for the closest known name, or "".
func suggestion(got string, known []string) string {
	if s := Closest(got, known); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}

// Closest returns the known name nearest to got by edit distance, treating
// '-' and '_' as equal, or "" when none is close enough to be a likely typo.
// A name that differs from got only by its unit suffix comes first, however
// far: "linger" and "linger_s" are "linger_ms", "retry_delay" is
// "retry_delay_seconds".
func Closest(got string, known []string) string {
	if g := unitStem(got); g != "" {
		for _, k := range known {
			if unitStem(k) == g && normalize(k) != normalize(got) {
				return k
			}
		}
	}
	best, bestD := "", 1<<30
	for _, k := range known {
		d := distance(normalize(got), normalize(k))
		// On a tie prefer a name with the same letters: "=>" is ">=".
		if d < bestD || d == bestD && sameLetters(got, k) && !sameLetters(got, best) {
			best, bestD = k, d
		}
	}
	// Two edits turn a word of four letters into most others of four
	// ("skip" into "stop"): short words get one.
	limit := max(len(got)/3, 2)
	if len(got) <= 4 {
		limit = 1
	}
	if bestD <= limit {
		return best
	}
	return ""
}

// unitSuffixes are the units config keys end with.
var unitSuffixes = []string{"_ms", "_s", "_seconds", "_sec", "_secs", "_mb", "_mib", "_kb", "_bytes"}

// unitStem is name without its unit suffix, normalized, or "" for a name
// too short to compare so ("s", "ms").
func unitStem(name string) string {
	n := normalize(name)
	for _, u := range unitSuffixes {
		if len(n) > len(u) && strings.HasSuffix(n, u) {
			n = n[:len(n)-len(u)]
			break
		}
	}
	if len(n) < 3 {
		return ""
	}
	return n
}

func normalize(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case c == '-':
			b[i] = '_'
		case c >= 'A' && c <= 'Z':
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// sameLetters reports whether a and b hold the same bytes in any order.
func sameLetters(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = normalize(a), normalize(b)
	var n [256]int
	for i := 0; i < len(a); i++ {
		n[a[i]]++
		n[b[i]]--
	}
	return n == [256]int{}
}

// distance is the edit distance between a and b, counting the swap of two
// adjacent bytes ("fucntion") as one edit (optimal string alignment).
func distance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
