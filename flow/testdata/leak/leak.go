// Package leak exposes internal types in each way the public API test
// looks for; the test checks that it finds every one and nothing else.
package leak

import "github.com/conveyor-etl/conveyor/internal/jsonio"

// Format is an alias of an internal type.
type Format = jsonio.Format

// Option is a func over an internal type.
type Option func(*jsonio.Reader)

// Holder leaks through an exported field, not through its unexported one.
type Holder struct {
	Exported []map[string]*jsonio.Reader
	hidden   jsonio.Format
}

// Open leaks through its result.
func Open() (jsonio.Format, error) { return 0, nil }

// Clean leaks nothing.
type Clean struct{ Name string }

// Get leaks through a method.
func (Clean) Get() chan jsonio.Format { return nil }

// Formats leaks through a variable's type.
var Formats = map[string]jsonio.Format{}

// Zero leaks nothing of its own: Holder is reported where it is declared.
var Zero = Holder{hidden: 0}
