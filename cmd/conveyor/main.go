// Command conveyor runs, checks and explains Conveyor pipelines with the
// built-in functions; package cli holds the commands (`conveyor help` lists
// them) for a program that adds functions of its own.
package main

import (
	"context"
	"os"

	"github.com/conveyor-etl/conveyor/cli"
	"github.com/conveyor-etl/conveyor/flow"
)

func main() {
	os.Exit(cli.Main(context.Background(), flow.Registry(), os.Args[1:]))
}
