// Package operators holds Conveyor's built-in record operators, such as
// "filter.apply". Each registers itself in the default plugin registry.
//
// Operators read records as bytes: a field is read with a field-level JSON
// reader, never by decoding the whole record, and records that pass are
// handed on without a copy.
package operators
