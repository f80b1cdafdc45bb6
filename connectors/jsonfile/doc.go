// Package jsonfile is Conveyor's JSON file source and sink: "json.read"
// reads a JSON array or JSON Lines file, "json.write" writes one.
//
// json.write writes to a temporary file beside the target and renames it
// over the target only when the pipeline ends well, so the target is always
// either the previous file or a complete, valid new one. Because its output
// becomes durable only then, a Kafka source feeding it commits offsets only
// after that rename.
package jsonfile
