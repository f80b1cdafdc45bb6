package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/plugin"
)

func cmdList(args []string, stdout, stderr io.Writer) int {
	c := newCommand("list", "", "list the functions a pipeline's stages can use, with their plugin and roles")
	if exit, ok := c.parse(args, stdout, stderr); !ok {
		return exit
	}
	if c.NArg() != 0 {
		return c.badArgs(stderr, "takes no arguments")
	}
	reg := flow.Registry()
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FUNCTION\tPLUGIN\tROLES\tSUMMARY")
	for _, name := range reg.Names() {
		s, _ := reg.Lookup(name)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, s.Plugin, strings.Join(roles(s), ", "), s.Summary)
	}
	tw.Flush()
	fmt.Fprintln(stdout, "\n`conveyor info FUNCTION` shows a function's keys.")
	return 0
}

func roles(s *plugin.Spec) []string {
	var out []string
	if s.Source != nil {
		out = append(out, "source (no inputs)")
	}
	if s.Operator != nil {
		out = append(out, "operator")
	}
	if s.Sink != nil {
		out = append(out, "sink (with inputs)")
	}
	return out
}

func cmdInfo(args []string, stdout, stderr io.Writer) int {
	c := newCommand("info", "FUNCTION", "show a function's config keys, their types and defaults (`conveyor list` lists the functions)")
	if exit, ok := c.parse(args, stdout, stderr); !ok {
		return exit
	}
	if c.NArg() != 1 {
		return c.badArgs(stderr, "want one function name, got %d arguments", c.NArg())
	}
	name := c.Arg(0)
	reg := flow.Registry()
	s, ok := reg.Lookup(name)
	if !ok {
		msg := fmt.Sprintf("conveyor: unknown function %q", name)
		if c := config.Closest(name, reg.Names()); c != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", c)
		}
		fmt.Fprintln(stderr, msg)
		return 1
	}
	fmt.Fprintf(stdout, "%s (plugin %q): %s\n", s.Name, s.Plugin, s.Summary)
	if s.Source != nil {
		printKeys(stdout, "as a source (inputs = [])", s.Source.Config())
	}
	if s.Operator != nil {
		printKeys(stdout, "as an operator", s.Operator.Config())
	}
	if s.Sink != nil {
		printKeys(stdout, "as a sink (with inputs)", s.Sink.Config())
	}
	if s.Doc != "" {
		fmt.Fprintf(stdout, "\n%s", s.Doc)
	}
	return 0
}

func printKeys(w io.Writer, title string, defaults any) {
	fmt.Fprintf(w, "\n%s:\n", title)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  KEY\tTYPE\tDEFAULT\tDESCRIPTION")
	for _, k := range config.Describe(defaults) {
		def := k.Default
		switch {
		case k.Required:
			def = "(required)"
		case def == "":
			def = "-"
		}
		typ := k.Type
		if len(k.Enum) > 0 {
			typ = strings.Join(k.Enum, "|")
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", k.Key, typ, def, k.Doc)
	}
	tw.Flush()
}
