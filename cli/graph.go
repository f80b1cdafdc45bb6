package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/engine"
	"github.com/conveyor-etl/conveyor/plugin"
)

// graphAbout is what `conveyor graph --help` says the command does.
const graphAbout = `Prints the pipeline's stages and how they are wired, as a Mermaid flowchart
(paste it into a Markdown file GitHub renders) or as Graphviz DOT
(conveyor graph --format dot p.toml | dot -Tsvg > p.svg). Each node is
labelled with the stage id and its function; sources are rounded, operators
rectangles and sinks cylinders. A stateful stage that repartitions its input
by its key is drawn behind its repartition topic (a parallelogram). The
pipeline must pass conveyor validate.`

// graphNode is one stage as drawn.
type graphNode struct {
	id, function string
	role         plugin.Role
	inputs       []int  // indexes of the stages it reads
	repartition  string // the topic it repartitions its input through, if any
}

func (a *app) cmdGraph(args []string, stdout, stderr io.Writer) int {
	fs := newCommand("graph", "[--format mermaid|dot] PIPELINE.toml", graphAbout)
	format := fs.String("format", "mermaid", "mermaid or dot")
	if exit, ok := fs.parse(args, stdout, stderr); !ok {
		return exit
	}
	pos := fs.Args()
	if len(pos) != 1 {
		return fs.badArgs(stderr, "want one pipeline file, got %d arguments", len(pos))
	}
	var draw func(io.Writer, *config.Pipeline, []graphNode)
	switch *format {
	case "mermaid":
		draw = mermaid
	case "dot":
		draw = dot
	default:
		fmt.Fprintf(stderr, "conveyor graph: --format: want mermaid or dot, got %q\n", *format)
		return 2
	}
	p, err := a.load(pos[0])
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	nodes := graphNodes(p, a.reg)
	if plan, err := engine.Compile(p, a.reg); err == nil {
		index := make(map[string]int, len(p.Stages))
		for i, st := range p.Stages {
			index[st.ID] = i
		}
		for _, rp := range plan.Repartitions() {
			nodes[index[rp.Stage]].repartition = rp.Topic
		}
	}
	draw(stdout, p, nodes)
	return 0
}

// graphNodes lists a checked pipeline's stages in file order with their
// roles and inputs.
func graphNodes(p *config.Pipeline, reg *plugin.Registry) []graphNode {
	index := make(map[string]int, len(p.Stages))
	for i, st := range p.Stages {
		index[st.ID] = i
	}
	nodes := make([]graphNode, len(p.Stages))
	for i, st := range p.Stages {
		n := graphNode{id: st.ID, function: st.Function}
		if spec, ok := reg.Lookup(st.Function); ok {
			n.role, _ = spec.RoleFor(len(st.Inputs) > 0) // checked by load
		}
		for _, in := range st.Inputs {
			n.inputs = append(n.inputs, index[in])
		}
		nodes[i] = n
	}
	return nodes
}

// mermaid draws the nodes as a Mermaid flowchart. Nodes are named s0, s1,
// ... so that no stage id clashes with Mermaid's keywords ("end").
func mermaid(w io.Writer, _ *config.Pipeline, nodes []graphNode) {
	shapes := map[plugin.Role][2]string{plugin.RoleSource: {`(["`, `"])`}, plugin.RoleOperator: {`["`, `"]`}, plugin.RoleSink: {`[("`, `")]`}}
	esc := strings.NewReplacer(`"`, "#quot;", "<", "#lt;", ">", "#gt;").Replace
	fmt.Fprintln(w, "flowchart LR")
	for i, n := range nodes {
		s := shapes[n.role]
		fmt.Fprintf(w, "  s%d%s%s<br/>%s%s\n", i, s[0], esc(n.id), esc(n.function), s[1])
	}
	for i, n := range nodes {
		if n.repartition != "" {
			fmt.Fprintf(w, "  r%d[/\"%s<br/>repartition by key\"/]\n", i, esc(n.repartition))
		}
	}
	for _, e := range edges(nodes) {
		fmt.Fprintf(w, "  %s --> %s\n", e[0], e[1])
	}
}

// edges are the arrows between the nodes (s<index>), through a stage's
// repartition topic (r<index>) when it has one.
func edges(nodes []graphNode) [][2]string {
	var out [][2]string
	for i, n := range nodes {
		to := fmt.Sprintf("s%d", i)
		if n.repartition != "" {
			to = fmt.Sprintf("r%d", i)
		}
		for _, in := range n.inputs {
			out = append(out, [2]string{fmt.Sprintf("s%d", in), to})
		}
		if n.repartition != "" {
			out = append(out, [2]string{to, fmt.Sprintf("s%d", i)})
		}
	}
	return out
}

// dot draws the nodes as a Graphviz digraph named after the pipeline.
func dot(w io.Writer, p *config.Pipeline, nodes []graphNode) {
	shapes := map[plugin.Role]string{plugin.RoleSource: `shape=box, style=rounded`, plugin.RoleOperator: `shape=box`, plugin.RoleSink: `shape=cylinder`}
	esc := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace
	fmt.Fprintf(w, "digraph \"%s\" {\n  rankdir=LR;\n", esc(p.Pipeline.Name))
	for i, n := range nodes {
		fmt.Fprintf(w, "  s%d [label=\"%s\\n%s\", %s];\n", i, esc(n.id), esc(n.function), shapes[n.role])
	}
	for i, n := range nodes {
		if n.repartition != "" {
			fmt.Fprintf(w, "  r%d [label=\"%s\\nrepartition by key\", shape=parallelogram];\n", i, esc(n.repartition))
		}
	}
	for _, e := range edges(nodes) {
		fmt.Fprintf(w, "  %s -> %s;\n", e[0], e[1])
	}
	fmt.Fprintln(w, "}")
}
