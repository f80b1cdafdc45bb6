// Package jsonfile is Conveyor's JSON file source and sink: "json.read"
// reads a JSON array or JSON Lines file, "json.write" writes one.
//
// json.read streams the file with memory bounded by max_record_bytes: a
// longer record is read past without being held, and fails the run (or is
// skipped with skip_invalid).
//
// json.write writes the run's records to a temporary file beside the
// target, and moves them into the target only when the pipeline ends well:
// renamed over it (a new file, an overwrite, or an append to a JSON array,
// whose records the temporary file holds first), or, to append to JSON
// Lines, copied to its end. Either way the target is synced before Flush
// returns, and until then it keeps its previous content. Because its
// output becomes durable only then, a Kafka source feeding it commits
// offsets only after that. mode "auto" appends when such a source feeds it,
// so that a second run keeps the first run's committed records.
//
// Their failures wrap [ErrInputNotFound], [ErrInvalidRecord] or
// [ErrCannotAppend] for errors.Is.
package jsonfile
