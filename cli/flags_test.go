package cli

import (
	"bytes"
	"slices"
	"testing"
)

// TestFlagsAnywhere checks that flags are parsed before, between and after
// positional arguments, and that everything after "--" is positional.
func TestFlagsAnywhere(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		pos     []string
		format  string
		verbose bool
	}{
		{[]string{"a.toml"}, []string{"a.toml"}, "text", false},
		{[]string{"--format", "json", "a.toml"}, []string{"a.toml"}, "json", false},
		{[]string{"a.toml", "--format=json", "b.toml", "-v"}, []string{"a.toml", "b.toml"}, "json", true},
		{[]string{"-v", "--", "--format", "a.toml"}, []string{"--format", "a.toml"}, "text", true},
		{[]string{"a.toml", "--", "-v"}, []string{"a.toml", "-v"}, "text", false},
		{[]string{"--", "a.toml", "-v"}, []string{"a.toml", "-v"}, "text", false},
	} {
		fs := newCommand("test", "", "")
		format := fs.String("format", "text", "")
		verbose := fs.Bool("v", false, "")
		var out, errOut bytes.Buffer
		code, ok := fs.parse(tc.args, &out, &errOut)
		pos := fs.Args()
		if !ok || !slices.Equal(pos, tc.pos) || *format != tc.format || *verbose != tc.verbose {
			t.Errorf("%q: exit %d ok %v, positional %q, format %q, v %v; want %q, %q, %v (stderr %q)",
				tc.args, code, ok, pos, *format, *verbose, tc.pos, tc.format, tc.verbose, errOut.String())
		}
	}
}
