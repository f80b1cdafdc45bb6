// Command conveyor runs, checks and explains Conveyor pipelines.
//
//	conveyor run PIPELINE.toml      run a pipeline
//	conveyor validate FILE...       check pipelines without connecting to anything
//	conveyor list                   list the functions
//	conveyor info FUNCTION          show a function's config keys
//	conveyor demo                   run the ETL example on an in-process broker
//	conveyor dev-kafka              run an in-process broker on localhost:9092
//	conveyor lag PIPELINE.toml      show the consumer lag of its kafka sources
//	conveyor graph PIPELINE.toml    draw the stages as Mermaid or DOT
//	conveyor produce TOPIC [FILE]   send JSON records to a topic
//	conveyor consume TOPIC          print a topic's records as JSON Lines
//	conveyor version                print the version
//
// `conveyor COMMAND --help` shows a command's flags.
package main

import (
	"fmt"
	"io"
	"os"

	// The built-in functions, which list, info, validate and run offer.
	_ "github.com/conveyor-etl/conveyor/connectors/all"
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
  conveyor produce [--brokers B] [--key-field F] TOPIC [FILE|-]
  conveyor consume [--brokers B] [--from-beginning] [-n N] [--group G] TOPIC
  conveyor version

"conveyor COMMAND --help" shows a command's flags; "-" reads the pipeline from stdin.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return cmdRun(rest, stdout, stderr)
	case "validate":
		return cmdValidate(rest, stdout, stderr)
	case "list":
		return cmdList(rest, stdout, stderr)
	case "info":
		return cmdInfo(rest, stdout, stderr)
	case "demo":
		return cmdDemo(rest, stdout, stderr)
	case "dev-kafka":
		return cmdDevKafka(rest, stdout, stderr)
	case "lag":
		return cmdLag(rest, stdout, stderr)
	case "graph":
		return cmdGraph(rest, stdout, stderr)
	case "produce":
		return cmdProduce(rest, stdout, stderr)
	case "consume":
		return cmdConsume(rest, stdout, stderr)
	case "version", "--version":
		return cmdVersion(rest, stdout, stderr)
	case "help", "-h", "--help":
		if len(rest) == 1 && rest[0] != "help" {
			return run([]string{rest[0], "--help"}, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "conveyor: unknown command %q\n\n%s", cmd, usage)
	return 2
}
