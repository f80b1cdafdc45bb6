// Package plugin holds what a Conveyor function implements and the registry
// that names them.
//
// A stage's function is a [Spec]: a name, the plugin it belongs to, and a
// factory for each role it can play. A stage with no inputs is a [Source]; a
// stage with inputs is an [Operator] when the function has one, and a [Sink]
// otherwise (so "kafka" reads when it has no inputs and writes when it has).
//
// The stage contracts are Watermill's own. A [Source] is a
// message.Subscriber that emits one message per [Batch] of records (JSON
// Lines in the payload, where they came from in the metadata: see [Batch]).
// An [Operator] runs as a message.HandlerMiddleware built by
// [OperatorMiddleware]: the operators below a source are composed into that
// source's router handler, called as plain functions on each batch. A [Sink]
// is a message.Publisher whose Publish returns only when every record it was
// handed is durable. The router acks a source's message only after the sinks'
// Publish returned, and a source records progress (commits offsets) only for
// acked messages: at-least-once comes from Watermill's own contract.
//
// Optional interfaces refine a stage: [Sender] and [Flusher] for sinks,
// [Committer], [Failer] and [Counter] for sources, [Reporter] for any.
//
// An operator that keeps state per key (counts per window, the keys seen)
// is a [Processor] made an Operator with [Stateful]: the runtime gives it,
// per input partition, a [Store], an event-time watermark, timers and
// Emit, writes its changes to a changelog before the offsets that caused
// them are committed, restores them when a partition is assigned, and
// fires every timer at the end of a bounded input without Kafka.
//
// # A function's config
//
// Each role's [Factory] has one config struct: Config returns it holding
// the defaults, the runtime fills it from the stage's [stages.config] table
// ([config.DecodeStage]), and `conveyor info` documents it. The struct tags
// are the one source for decoding, checking and documenting a key:
//
//	type Config struct {
//		Topic   string        `key:"topic" required:"true" doc:"the topic to read"`
//		Mode    string        `key:"mode" enum:"append,overwrite" doc:"..."`
//		Batch   int           `key:"batch_size" min:"1" max:"100000" doc:"..."`
//		Linger  time.Duration `key:"linger_ms" unit:"ms" min:"0" doc:"..."`
//		Token   config.Secret `key:"token" secret:"true" doc:"write \"${ENV_VAR}\" rather than the secret"`
//	}
//
// The tags:
//
//	key:"name"          the config key; a field without it is not a key
//	required:"true"     the key must be present
//	enum:"a,b,c"        a string must be one of these
//	lower:"true"        a string is lower-cased before it is checked and kept
//	empty:"default"     an empty string keeps the default (for values from
//	                    "${VAR:-}")
//	min:"1" max:"64"    bounds of a number, inclusive; for a duration, in
//	                    its unit; only on number and duration fields
//	why:"..."           why the bounds are what they are, shown with them
//	unit:"ms"           for a time.Duration: bare numbers are in this unit
//	                    (ms, the default, or s); for a number, the unit named
//	                    in messages and docs ("MiB")
//	numeric:"true"      for a time.Duration: only a number in its unit, not
//	                    "1.5s"
//	secret:"true"       the value is never shown in messages, and `conveyor
//	                    info` shows no default; give the field the type
//	                    [config.Secret] so that printing or logging the
//	                    config redacts it too
//	runvars:"true"      a string that may hold {{run_id}} and {{date}}, filled
//	                    in with [config.ExpandRunVars]; any other key holding
//	                    them is an error
//	doc:"..."           one line for `conveyor info`
//
// Field types: string (and types of kind string, such as [config.Secret]),
// []string (a TOML array, or one comma-separated string), map[string]string
// (a table), the int kinds, float64, bool, time.Duration, and any (the
// value as TOML gives it: string, int64, float64, bool, []any,
// map[string]any). Numbers and booleans may be written as strings
// ("1000"); integers and booleans are taken as text by string fields. An
// embedded struct's keys are the struct's own (a shared set of connection
// keys). A struct field with a key tag is a sub-table, written inline
// (registry = { url = "...", password = "${PW}" }) or as a
// [stages.config.registry] table: its fields carry the same tags, its
// errors name "registry.url" where it is written, its own Validate runs,
// and `conveyor info` lists its keys as "registry.url". An unknown key is
// an error with a did-you-mean.
//
// After decoding, the struct's Validate method, when it has one
// ([config.Validator]), checks what the tags cannot (keys that depend on
// each other), returning [config.Invalid] errors joined with errors.Join,
// each naming its key ("registry.url" for a sub-table's), so that each is
// reported at that key's line. Every
// problem of every stage is reported at once, with file:line:col, stage and
// key.
package plugin
