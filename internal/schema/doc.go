// Package schema reads and writes record values in the schema formats of a
// Confluent-compatible schema registry: Avro, Protobuf and JSON Schema, in
// Confluent's wire format (a zero byte, the registry's 4-byte schema id,
// for Protobuf the message indexes, then the encoded value).
//
// A [Decoder] turns such a value into the JSON object every operator takes,
// with the schema it was written with (fetched once by id and cached); an
// [Encoder] turns a record back, with one schema the sink registered or
// looked up at start. The JSON form of each Avro type is documented
// below and is lossless: Avro → record → Avro gives the same bytes.
//
// # Avro's JSON form
//
// Each Avro type has one JSON form in a record, the one the source writes
// and the sink reads:
//
//   - null, boolean, int, long, float, double: JSON null, true/false and
//     numbers (float and double print the shortest text that reads back to
//     the same bits; NaN and ±Infinity are the strings "NaN", "Infinity",
//     "-Infinity").
//   - string and enum: JSON strings (an enum by its symbol).
//   - bytes and fixed: standard base64 text.
//   - decimal (on bytes or fixed): the exact decimal as text with the
//     schema's scale, e.g. "12.30"; a number is taken too when writing.
//   - date, time-*, timestamp-*, local-timestamp-*: the underlying int or
//     long (days, or milli/microseconds since the epoch) as a number, so a
//     timestamp-millis field feeds the sink's timestamp_field as it is.
//   - uuid: its string.
//   - array: a JSON array; map: a JSON object.
//   - record: a JSON object of its fields, in the schema's order. A field
//     missing from a record being written takes its default; a missing
//     field whose type is a union with null is null.
//   - union: null as null; a union of null and one other type as that
//     type's value; any other union as {"<branch>": value}, the branch being
//     the full name of a named type or the name of a primitive type ("long",
//     "string", "array", "map"), as Avro's own JSON encoding writes it.
//
// Decoders and Encoders are safe for concurrent use.
package schema
