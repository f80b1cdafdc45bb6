package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/plugin"
)

func (a *app) cmdList(args []string, stdout, stderr io.Writer) int {
	c := newCommand("list", "", "list the functions a pipeline's stages can use, with their plugin and roles")
	if exit, ok := c.parse(args, stdout, stderr); !ok {
		return exit
	}
	if c.NArg() != 0 {
		return c.badArgs(stderr, "takes no arguments")
	}
	reg := a.reg
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FUNCTION\tPLUGIN\tROLES\tSUMMARY")
	for _, name := range reg.Names() {
		s, _ := reg.Lookup(name)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, s.Plugin, strings.Join(roles(s), ", "), s.Summary)
	}
	tw.Flush()
	fmt.Fprintln(stdout, "\nA stage without inputs is a source; with inputs, an operator when the function has one, else a sink.\n`conveyor info FUNCTION` shows a function's keys.")
	return 0
}

// roles names the parts s can play, in the order source, operator, sink.
func roles(s *plugin.Spec) []string {
	var out []string
	if s.Source != nil {
		out = append(out, "source")
	}
	if s.Operator != nil {
		out = append(out, "operator")
	}
	if s.Sink != nil {
		out = append(out, "sink")
	}
	return out
}

func (a *app) cmdInfo(args []string, stdout, stderr io.Writer) int {
	c := newCommand("info", "FUNCTION|TABLE", "show a function's config keys, their types and defaults (`conveyor list` lists the functions), or a table's: "+strings.Join(config.TableNames(), ", "))
	if exit, ok := c.parse(args, stdout, stderr); !ok {
		return exit
	}
	if c.NArg() != 1 {
		return c.badArgs(stderr, "want one function or table name, got %d arguments", c.NArg())
	}
	name := c.Arg(0)
	if keys, ok := config.DescribeTable(name); ok {
		fmt.Fprintf(stdout, "[%s]:\n", name)
		printKeys(stdout, keys)
		return 0
	}
	reg := a.reg
	s, ok := reg.Lookup(name)
	if !ok {
		msg := fmt.Sprintf("conveyor: unknown function or table %q", name)
		if c := config.Closest(name, append(reg.Names(), config.TableNames()...)); c != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", c)
		}
		fmt.Fprintln(stderr, msg)
		return 1
	}
	fmt.Fprintf(stdout, "%s (plugin %q): %s\n", s.Name, s.Plugin, s.Summary)
	if s.Source != nil {
		fmt.Fprintf(stdout, "\nas a source (inputs = []):\n")
		printKeys(stdout, config.Describe(s.Source.Config()))
	}
	if s.Operator != nil {
		fmt.Fprintf(stdout, "\nas an operator:\n")
		printKeys(stdout, config.Describe(s.Operator.Config()))
	}
	if s.Sink != nil {
		fmt.Fprintf(stdout, "\nas a sink (with inputs):\n")
		printKeys(stdout, config.Describe(s.Sink.Config()))
	}
	if s.Doc != "" {
		fmt.Fprintf(stdout, "\n%s", s.Doc)
	}
	return 0
}

func printKeys(w io.Writer, keys []config.KeyDoc) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  KEY\tTYPE\tDEFAULT\tDESCRIPTION")
	for _, k := range keys {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", k.Key, keyType(k), keyDefault(k), k.Doc)
	}
	tw.Flush()
}

// keyType is a key's type with its choices or bounds: "integer, 1 to 64".
func keyType(k config.KeyDoc) string {
	typ := k.Type
	if len(k.Enum) > 0 {
		typ = strings.Join(k.Enum, "|")
	}
	if r := k.Range(); r != "" {
		typ += ", " + r
	}
	return typ
}

func keyDefault(k config.KeyDoc) string {
	switch {
	case k.Required:
		return "(required)"
	case k.Default == "":
		return "-"
	}
	return k.Default
}
