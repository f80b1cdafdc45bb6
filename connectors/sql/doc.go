// Package sql holds the PostgreSQL functions, built on watermill-sql
// (github.com/ThreeDotsLabs/watermill-sql/v4) through plugin.PublisherSink
// and plugin.SubscriberSource, with pgx v5 as the driver:
//
//   - "sql.outbox" (source) forwards the rows of a transactional outbox: a
//     service inserts a row into the table watermill_<topic> in the same
//     transaction as its own change (with watermill-sql's Publisher over
//     that transaction, or a plain INSERT), and the pipeline carries it on,
//     to Kafka say. Progress is watermill-sql's consumer-group offset, in
//     the table watermill_offsets_<topic>; a row's offset is stored only
//     after the batch holding it was acked, that is after every sink below
//     made it durable. A crash replays rows, never skips them.
//   - "sql.write" (sink) inserts each record as a row of watermill_<topic>
//     (payload = the record's JSON, metadata = its Kafka metadata). The
//     INSERT has committed when the write returns, so the source above
//     commits its offsets only after the rows are in PostgreSQL.
//
// The tables are watermill-sql's DefaultPostgreSQLSchema: "offset"
// BIGSERIAL, uuid, created_at, payload (JSON, or BYTEA with payload_type),
// metadata JSON, transaction_id xid8; both functions create them when
// missing (initialize_schema).
package sql
