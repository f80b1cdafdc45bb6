// Package config reads Conveyor pipeline files.
//
// A pipeline is a TOML document with a [pipeline] table (name, version,
// description), a [global] table (plugins, log_level, variables, ...), an array of
// [[stages]] (id, function, inputs and a free-form [stages.config] table) and
// an [error_handling] table. [Load] and [Parse] turn such a document into a
// [Pipeline], expanding ${VAR}, ${VAR:-default} and {{name}} references in
// every string value and checking the structure: unknown keys, wrong types,
// duplicate stage ids, inputs that name no stage and cycles.
//
// [pipeline], [global] and [error_handling] are decoded from the struct
// tags of [Meta], [Global] and [ErrorHandling]: `key`, `doc`, `enum`,
// `min`/`max` and the others listed at [DecodeStage]. A key of one of them
// is one tagged field, and [DescribeTable] documents it (`conveyor info
// global`).
//
// What a stage's config may hold depends on its function, so that part is
// checked where the registry of functions is known: a function describes its
// config as a struct with the same tags and calls [DecodeStage]. Every error
// carries the file, line and column, the stage and the key it is about and a
// [Kind] (unknown key, missing, bad type, out of range, ...), and all the
// errors of a document are reported together as [Errors]. A reference that
// cannot be expanded is reported once: the key keeps its default, and
// decoding says nothing more about it.
package config
