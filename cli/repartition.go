package cli

import (
	"fmt"
	"io"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/engine"
)

// printRepartitions says, for a valid pipeline, which stateful stages
// repartition their input by their key, and through which topic.
func (a *app) printRepartitions(p *config.Pipeline, w io.Writer) {
	plan, err := engine.Compile(p, a.reg)
	if err != nil {
		return
	}
	for _, rp := range plan.Repartitions() {
		fmt.Fprintf(w, "  stage %q repartitions its input by its key through topic %q (created with the source topic's partition count; repartition = \"never\" if the input is keyed by it already)\n", rp.Stage, rp.Topic)
	}
}
