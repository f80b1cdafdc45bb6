package cli

import (
	"context"
	"io"
	"os"

	"github.com/conveyor-etl/conveyor/flow"
)

// stdin is what testApp's commands read as "-"; withStdin replaces it.
var stdin io.Reader = os.Stdin

// testApp is the command line as cmd/conveyor runs it: the built-in
// functions, reading stdin.
func testApp() *app {
	return &app{ctx: context.Background(), reg: flow.Registry(), stdin: stdin}
}

// run runs the command line args as cmd/conveyor does.
func run(args []string, stdout, stderr io.Writer) int { return testApp().run(args, stdout, stderr) }
