// Package cli is the conveyor command line, for a program that builds its
// own conveyor binary with functions of its own: every command (run,
// validate, graph, lag, info, ...) takes its functions from the registry
// given to [Main].
//
//	func main() {
//		reg := flow.Registry().Clone() // the built-in functions
//		reg.Register(myOperatorSpec()) // and yours
//		os.Exit(cli.Main(context.Background(), reg, os.Args[1:]))
//	}
//
// cmd/conveyor is exactly that with the default registry. The commands:
//
//	conveyor run PIPELINE.toml      run a pipeline
//	conveyor validate FILE...       check pipelines without connecting to anything
//	conveyor list                   list the functions
//	conveyor info FUNCTION          show a function's config keys
//	conveyor demo                   run the ETL example on an in-process broker
//	conveyor dev-kafka              run an in-process broker on localhost:9092
//	conveyor lag PIPELINE.toml      show the consumer lag of its kafka sources
//	conveyor graph PIPELINE.toml    draw the stages as Mermaid or DOT
//	conveyor state PIPELINE.toml    show its stateful stages' stores, changelogs and keys
//	conveyor produce TOPIC [FILE]   send JSON records to a topic
//	conveyor consume TOPIC          print a topic's records as JSON Lines
//	conveyor test [PATH...]         run the pipelines' *_test.toml files
//	conveyor version                print the version
//
// `conveyor COMMAND --help` shows a command's flags.
package cli

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/conveyor-etl/conveyor/plugin"
)

const usage = `conveyor: stream-processing and ETL pipelines, Kafka first

usage:
  conveyor run [--log-level L] [--log-format F] PIPELINE.toml|-
  conveyor validate PIPELINE.toml|-...
  conveyor list
  conveyor info FUNCTION
  conveyor demo [--records N]
  conveyor dev-kafka [--port 9092] [--partitions 3] [--no-seed]
  conveyor lag [--format text|json] PIPELINE.toml | --group G --topic T --brokers B
  conveyor graph [--format mermaid|dot] PIPELINE.toml
  conveyor state [--format text|json] PIPELINE.toml [--stage ID --key KEY]
  conveyor produce [--brokers B] [--key-field F] TOPIC [FILE|-]
  conveyor consume [--brokers B] [--from-beginning] [-n N] [--group G] [--until-end] TOPIC
  conveyor test [--broker fixtures|embedded] [--run REGEXP] [PATH...]
  conveyor version

"conveyor COMMAND --help" shows a command's flags; "-" reads the pipeline from stdin.
`

// Main runs the command line args (os.Args[1:]: a command and its
// arguments) with the functions of reg, reading os.Stdin and writing
// os.Stdout and os.Stderr, and returns the exit code: 0 done, 1 failed, 2
// misused. Cancelling ctx stops a running command as SIGINT does (run
// drains and commits). Main does not call os.Exit; the caller passes the
// code to it.
func Main(ctx context.Context, reg *plugin.Registry, args []string) int {
	a := &app{ctx: ctx, reg: reg, stdin: os.Stdin}
	return a.run(args, os.Stdout, os.Stderr)
}

// app is what every command runs with: the caller's context, the
// functions, and where "-" reads from.
type app struct {
	ctx   context.Context
	reg   *plugin.Registry
	stdin io.Reader
}

func (a *app) run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return a.cmdRun(rest, stdout, stderr)
	case "validate":
		return a.cmdValidate(rest, stdout, stderr)
	case "list":
		return a.cmdList(rest, stdout, stderr)
	case "info":
		return a.cmdInfo(rest, stdout, stderr)
	case "demo":
		return a.cmdDemo(rest, stdout, stderr)
	case "dev-kafka":
		return a.cmdDevKafka(rest, stdout, stderr)
	case "lag":
		return a.cmdLag(rest, stdout, stderr)
	case "state":
		return a.cmdState(rest, stdout, stderr)
	case "graph":
		return a.cmdGraph(rest, stdout, stderr)
	case "produce":
		return a.cmdProduce(rest, stdout, stderr)
	case "consume":
		return a.cmdConsume(rest, stdout, stderr)
	case "test":
		return a.cmdTest(rest, stdout, stderr)
	case "version", "--version":
		return a.cmdVersion(rest, stdout, stderr)
	case "help", "-h", "--help":
		if len(rest) == 1 && rest[0] != "help" {
			return a.run([]string{rest[0], "--help"}, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "conveyor: unknown command %q\n\n%s", cmd, usage)
	return 2
}
