// Package expr is Conveyor's expression language: github.com/expr-lang/expr
// over the fields of a JSON record, with the comparison rules of
// filter.apply (internal/compare). Every key that takes an expression
// (filter.expr's condition, fields.set, the kafka sink's topic_expr,
// key_expr and partition_expr, the conditions of `conveyor test`) compiles
// it here.
//
// # API
//
// Compile an expression once, when the config is validated; its error is an
// [*Error] that names the column inside the expression. Then evaluate it on
// each record, the record's JSON bytes as they travel:
//
//	p, err := expr.Compile(`amount >= 100 && event in ['purchase', 'refund']`)
//	ok, out := p.Bool(rec)         // a condition: false on a missing field, a mismatch or an error
//	v, out, err := p.Eval(rec)     // a value: v.Text() for a topic or key, v.AppendJSON for a field
//
// Out is an [Outcome]: whether the evaluation met a missing field or a
// type mismatch, for the caller to count (conveyor_type_mismatch_total and
// the stage summary). A Program is safe for concurrent use; evaluating one
// allocates little (the values of the fields it reads), and reads only the
// fields the expression names, with the field-level reader of
// internal/record, never decoding the whole record.
//
// # Language
//
// Variables are the record's fields: amount, a dotted path address.country
// (or address["country"], tags[0]), _kafka_key, _kafka_headers.traceparent.
// A JSON number is a float64 (literals like 100 are ints; arithmetic on two
// ints stays an int), a string a string, an object a map and an array a
// list.
//
// Comparisons (== != < <= > >= in, not in, contains, not contains,
// startsWith, endsWith, matches and their not forms) follow filter.apply's
// table: a numeric string compares as a number with a number ("150" >= 100),
// "true"/"false" as booleans, a string with a string by bytes. A comparison
// with a missing field is false (!= and not in too) and sets [Missing]; one
// whose types do not compare (a number against "n/a", an ordered boolean)
// is false (!= and not in: true, as in the table) and sets [Mismatch]. !
// negates a result, so !(country matches '^X') holds for a record without
// country. && || ! and ?: take booleans and the strings "true"/"false";
// anything else is false, counted.
//
// Arithmetic (+ - * / % **) reads numbers and numeric strings; + of two
// strings concatenates. A missing field makes the result missing; an
// operand that is not a number, a division by zero or an overflow to ±Inf
// makes it invalid (a mismatch). Either way a comparison of it is false and
// [Program.Eval] returns a value of kind [KindMissing].
//
// Functions: lower upper trim (strings), len (of a string in characters, of
// a list or object), int float (from numbers and numeric strings; int
// truncates), string (a string as it is, anything else as its JSON text),
// coalesce(a, b, ...) (the first argument that is neither missing nor null,
// and a ?? b is coalesce(a, b)), hash(x) (the FNV-1a 64-bit hash of x's
// string() text, its low 53 bits as a non-negative integer, so it is exact
// in JSON and the same on every machine and run), now() (milliseconds since
// the Unix epoch, as _kafka_timestamp). matches takes RE2 syntax (Go's
// regexp); a constant pattern is compiled once, with the expression, and a
// bad one is a compile error. expr-lang's other builtins (split, join, abs,
// all, any, filter, map, ...) are there too, with expr-lang's own rules; an
// error they raise on a record counts as a mismatch.
package expr
