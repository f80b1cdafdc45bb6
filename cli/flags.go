package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// command is one subcommand's flags, with what its usage says.
type command struct {
	*flag.FlagSet
	synopsis string // after "conveyor NAME", e.g. "[flags] PIPELINE.toml|-"
	about    string // what the command does, one or a few lines
}

// newCommand makes the flag set of `conveyor name`.
func newCommand(name, synopsis, about string) *command {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parse reports errors itself, with the usage
	fs.Usage = func() {}
	return &command{FlagSet: fs, synopsis: synopsis, about: about}
}

// usage is the command's help: synopsis, what it does, and every flag.
func (c *command) usage() string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: conveyor %s %s\n\n%s\n\nflags:\n", c.Name(), c.synopsis, c.about)
	c.SetOutput(&b)
	c.PrintDefaults()
	c.SetOutput(io.Discard)
	b.WriteString("  -h, --help\n    \tshow this help\n")
	return b.String()
}

// parse parses args, taking flags before and after the positional
// arguments (`run FILE --log-level debug` as well as `run --log-level debug
// FILE`); "--" ends the flags. It returns ok to go on; otherwise the command
// returns exit: 0 after printing the help asked for with -h or --help, 2
// after an unknown or malformed flag, reported with the usage.
func (c *command) parse(args []string, stdout, stderr io.Writer) (exit int, ok bool) {
	var positional []string
	for {
		if err := c.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stdout, c.usage())
				return 0, false
			}
			fmt.Fprintf(stderr, "conveyor %s: %v\n\n%s", c.Name(), err, c.usage())
			return 2, false
		}
		rest := c.Args()
		if len(rest) == 0 {
			break
		}
		// The flag package stops at the first argument that is not a flag,
		// and after "--", which it consumes: tell the two apart.
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	// Parse again with no arguments left to flag-parse, so that Args
	// returns the positional arguments gathered.
	_ = c.Parse(append([]string{"--"}, positional...))
	return 0, true
}

// badArgs reports wrong positional arguments with the usage; exit code 2.
func (c *command) badArgs(stderr io.Writer, format string, args ...any) int {
	fmt.Fprintf(stderr, "conveyor %s: %s\n\n%s", c.Name(), fmt.Sprintf(format, args...), c.usage())
	return 2
}
