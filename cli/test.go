package cli

import (
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/conveyor-etl/conveyor/internal/pipetest"
)

// testAbout is what `conveyor test --help` says the command does.
const testAbout = `Runs every *_test.toml under the paths (default: the current directory; testdata
and hidden directories are skipped, a file given by name is run whatever its name).
A test file names its pipeline (pipeline = "p.toml", relative to the test file)
and has [[tests]] cases: records into a source ([[tests.input]]: value, key,
headers, partition, timestamp) and what a sink must write ([[tests.output]]:
value, fields, absent, condition, key, partition, topic, headers), the dead
letters ([[tests.dead_letter]]) and the counts ([tests.counts]); a table.join's
table is given as rows ([[tests.table]]). Sources and sinks are in-memory
fixtures with the same config keys; operators, keys,
partitions (Java's murmur2 over the test's partitions) and error handling run
as in production. Prints one line per case and what differs under a failing
one; exits 1 when a case fails. The README's "Test a pipeline" shows a file.`

func (a *app) cmdTest(args []string, stdout, stderr io.Writer) int {
	var keys strings.Builder
	for _, t := range pipetest.Tables() {
		fmt.Fprintf(&keys, "\n%s:\n", t.Name)
		printKeys(&keys, t.Keys)
	}
	c := newCommand("test", "[--broker fixtures|embedded] [--run REGEXP] [PATH...]", testAbout+"\n"+keys.String())
	broker := c.String("broker", "fixtures", "fixtures (in-memory sources and sinks) or embedded (the real kafka source and sink on an in-process broker)")
	match := c.String("run", "", "run only the cases whose name matches this regular expression (Go syntax)")
	if exit, ok := c.parse(args, stdout, stderr); !ok {
		return exit
	}
	o := pipetest.Options{Registry: a.reg}
	if *match != "" {
		re, err := regexp.Compile(*match)
		if err != nil {
			return c.badArgs(stderr, "--run: %v", err)
		}
		o.Match = re
	}
	switch *broker {
	case "fixtures":
	case "embedded":
		o.Embedded = true
	default:
		return c.badArgs(stderr, "--broker: want fixtures or embedded, got %q", *broker)
	}
	ok, err := pipetest.Run(a.ctx, stdout, c.Args(), o)
	if err != nil {
		fmt.Fprintf(stderr, "conveyor test: %v\n", err)
		return 1
	}
	if !ok {
		return 1
	}
	return 0
}
