// Package config reads Conveyor pipeline files.
//
// A pipeline is a TOML document with a [pipeline] table (name, version,
// description), a [global] table (plugins, log_level, variables), an array of
// [[stages]] (id, function, inputs and a free-form [stages.config] table) and
// an [error_handling] table. [Load] and [Parse] turn such a document into a
// [Pipeline], expanding ${VAR}, ${VAR:-default} and {{name}} references in
// every string value and checking the structure: unknown keys, wrong types,
// duplicate stage ids, inputs that name no stage and cycles.
//
// What a stage's config may hold depends on its function, so that part is
// checked where the registry of functions is known: a function describes its
// config as a struct with `key` tags and calls [DecodeStage]. Every error
// carries the file, line and column, the stage and the key it is about, and
// all the errors of a document are reported together as [Errors].
package config
