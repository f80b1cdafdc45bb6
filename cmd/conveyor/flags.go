package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// cmdFlags is a command's flag set and usage text.
type cmdFlags struct {
	*flag.FlagSet
	usage string // "usage: conveyor NAME ...\n\nwhat it does\n"
}

// newFlags makes the flag set of command name; usage is printed before the
// flags' defaults.
func newFlags(name, usage string) *cmdFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {} // printed by parse, on the right stream
	return &cmdFlags{FlagSet: fs, usage: usage}
}

// printUsage writes the usage text and the flags to w.
func (f *cmdFlags) printUsage(w io.Writer) {
	fmt.Fprint(w, f.usage)
	fmt.Fprintln(w, "\nflags:")
	f.SetOutput(w)
	f.PrintDefaults()
}

// parse parses args, accepting flags before and after the positional
// arguments (all arguments after "--" are positional), and returns those. The exit code is -1 to go on, 0 after
// --help (usage printed on stdout) or 2 after a bad flag (the error and the
// usage printed on stderr).
func (f *cmdFlags) parse(args []string, stdout, stderr io.Writer) (pos []string, code int) {
	f.SetOutput(stderr)
	for {
		if err := f.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				f.printUsage(stdout)
				return nil, 0
			}
			f.printUsage(stderr)
			return nil, 2
		}
		rest := f.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), -1 // all positional after "--"
		}
		args = rest
		if len(args) == 0 {
			return pos, -1
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
