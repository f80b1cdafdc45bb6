package config

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Error is one problem in a pipeline file.
type Error struct {
	// Kind says what sort of problem it is, for callers that branch on it
	// (the text in Msg is for people and may change).
	Kind Kind
	Pos  Pos
	// Stage is the index of the stage the problem is in, or -1.
	Stage int
	// StageID is that stage's id ("" when it has none or Stage is -1).
	StageID string
	// Key is the key the problem is about, as a path inside its table
	// ("config.group_id", "inputs", "error_handling.strategy"); may be "".
	Key string
	Msg string
}

// Error renders `file:line:col: stages[2] "filter" config.operator: msg`.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Pos.String())
	b.WriteString(": ")
	if e.Stage >= 0 {
		fmt.Fprintf(&b, "stages[%d]", e.Stage)
		if e.StageID != "" {
			fmt.Fprintf(&b, " %q", e.StageID)
		}
		if e.Key != "" {
			b.WriteByte(' ')
		}
	}
	b.WriteString(e.Key)
	if e.Stage >= 0 || e.Key != "" {
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in a pipeline, in file order.
type Errors []*Error

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// Of returns the errors of kind k, in order.
func (es Errors) Of(k Kind) Errors {
	var out Errors
	for _, e := range es {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

// Unwrap lets errors.As find each *Error.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Err returns nil when es is empty and es sorted by position otherwise.
func (es Errors) Err() error {
	if len(es) == 0 {
		return nil
	}
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i].Pos, es[j].Pos
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	return es
}

// Merge flattens errs (nil, *Error, Errors or anything that unwraps to
// them) into one Errors value, or nil when there is nothing to report.
// Other errors are kept as position-less messages. An error equal to one
// already merged is dropped: [Parse] and a registry check may both report
// the same structural problem.
func Merge(errs ...error) error {
	var all Errors
	for _, err := range errs {
		all = appendErr(all, err)
	}
	out := all[:0]
	seen := make(map[Error]bool, len(all))
	for _, e := range all {
		if !seen[*e] {
			seen[*e] = true
			out = append(out, e)
		}
	}
	return out.Err()
}

func appendErr(all Errors, err error) Errors {
	if err == nil {
		return all
	}
	var e *Error
	switch {
	case errors.As(err, &e) && e == err:
		return append(all, e)
	}
	if es, ok := err.(Errors); ok {
		return append(all, es...)
	}
	if u, ok := err.(interface{ Unwrap() []error }); ok {
		for _, x := range u.Unwrap() {
			all = appendErr(all, x)
		}
		return all
	}
	return append(all, &Error{Stage: -1, Msg: err.Error()})
}

// Kind is the sort of problem an [Error] reports.
type Kind int

// The kinds of [Error]. Errors built outside this package without a Kind
// (a registry's checks, say) are [Other].
const (
	// Other is any problem not classified below.
	Other Kind = iota
	// Syntax: the document is not valid TOML; nothing else is checked.
	Syntax
	// UnknownKey: a key or table that nothing reads; Msg holds a
	// did-you-mean when a known name is close.
	UnknownKey
	// Missing: a required key is absent; the error is at the table.
	Missing
	// BadType: a value of the wrong type ("ten" for a whole number).
	BadType
	// BadValue: a value of the right type that is not allowed: not one of
	// the key's enum, or refused by the component's Validate.
	BadValue
	// OutOfRange: a number outside the key's `min`/`max` tags (or its
	// Go type).
	OutOfRange
	// BadReference: a ${VAR} that is not set, an unknown {{name}}, a
	// reference left unclosed or used where it cannot be. The value is
	// left out: decoding keeps the key's default and reports nothing more
	// about that key, so each mistake is reported once.
	BadReference
	// Graph: the stages do not form a pipeline: duplicate ids, inputs that
	// name no stage, cycles.
	Graph
)

var kindNames = [...]string{"other", "syntax", "unknown key", "missing", "bad type", "bad value", "out of range", "bad reference", "graph"}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// FieldError is what a component's Validate returns about one of its keys;
// DecodeStage turns it into an *Error of kind [BadValue] at that key's
// position.
type FieldError struct {
	Key string
	Msg string
}

func (e *FieldError) Error() string { return e.Key + ": " + e.Msg }

// Invalid builds a *FieldError for key.
func Invalid(key, format string, args ...any) error {
	return &FieldError{Key: key, Msg: fmt.Sprintf(format, args...)}
}
