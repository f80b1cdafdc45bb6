// Package examples holds the spec's three example pipelines and the data
// Example 2 reads, embedded so that `conveyor demo` and tests can use them.
package examples

import "embed"

// FS holds kafka-consumer-example.toml, kafka-producer-example.toml,
// kafka-etl-example.toml and data/events.json.
//
//go:embed *.toml data/events.json
var FS embed.FS
