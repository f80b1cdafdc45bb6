// Package all registers every built-in function of Conveyor in
// plugin.Default() when it is imported, and is the one place that lists
// them:
//
//   - "kafka": the Kafka source and sink (package connectors/kafka)
//   - "table.join": enrich records from a table kept in a compacted Kafka
//     topic (connectors/kafka)
//   - "json.read", "json.write": JSON array and JSON Lines files (connectors/jsonfile)
//   - "stdout.write": records as JSON Lines on standard output (connectors/stdout)
//   - "sql.outbox", "sql.write": PostgreSQL through watermill-sql (connectors/sql)
//   - "filter.apply", "filter.expr": keep the records a comparison or an
//     expression holds for (operators)
//   - "fields.select", "fields.drop", "fields.rename", "fields.set": shape a
//     record's fields (operators)
//   - "json.extract": parse a field holding a JSON document (operators)
//   - "window.aggregate", "dedupe.apply": stateful stages on the state API,
//     event-time windows and keeping the first record of each key (operators)
//
// Package flow imports it, so a program that runs pipelines through flow
// has them all; a program that builds its own registry imports it for its
// side effect only:
//
//	import _ "github.com/conveyor-etl/conveyor/connectors/all"
//
// A new built-in function is added here, not to each command.
package all

import (
	_ "github.com/conveyor-etl/conveyor/connectors/jsonfile"
	_ "github.com/conveyor-etl/conveyor/connectors/kafka"
	_ "github.com/conveyor-etl/conveyor/connectors/sql"
	_ "github.com/conveyor-etl/conveyor/connectors/stdout"
	_ "github.com/conveyor-etl/conveyor/operators"
)
