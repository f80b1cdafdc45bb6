package config

import (
	"fmt"
)

// Secret holds a credential in a function's config (kafka's sasl_password,
// sql's dsn; tag it secret:"true" too, see package plugin). It never shows
// its value: fmt prints "[redacted]" for every verb and flag (%v, %+v,
// %#v, %s, %q, %x, %d, ... also inside a printed config struct), and so do
// encoding/json, encoding.TextMarshaler users and zap (zap.Any of a config
// is JSON-encoded). An empty Secret prints as empty, so that "not set"
// stays visible. The value is only read where it is used: string(s),
// handed to the client that needs it.
//
// fmt does not call methods in two cases, which therefore print the value:
// a verb that does not apply to a struct (%p of a config value, not of a
// pointer), and a Secret reached through an unexported field of another
// struct value. Keep configs behind pointers and print them with %v.
type Secret string

const redacted = "[redacted]"

func (s Secret) shown() string {
	if s == "" {
		return ""
	}
	return redacted
}

// String returns "[redacted]" (or "" when empty).
func (s Secret) String() string { return s.shown() }

// GoString is used by %#v.
func (s Secret) GoString() string { return fmt.Sprintf("%q", s.shown()) }

// Format prints s as its redacted text for every verb.
func (s Secret) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, fmt.FormatString(f, verb), s.shown())
}

// MarshalText makes encoding/json (and so zap's reflection encoder) and
// other text encoders write the redacted text.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.shown()), nil }
