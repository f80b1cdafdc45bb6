package config

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The run-time variables {{run_id}} and {{date}} are not filled in when a
// file is loaded but when a run starts, by the keys that take them (tagged
// runvars:"true", such as json.write's path). Loading leaves them as
// written in a stage's config; anywhere else, or in a key that does not
// take them, they are an error, and [global.variables] cannot define them.
var runVarNames = []string{"run_id", "date"}

func isRunVar(name string) bool { return slices.Contains(runVarNames, name) }

func runVarMisplaced(name string) error {
	return fmt.Errorf("{{%s}} is filled in when a run starts, and only by keys that take it (such as json.write's path): here it would stay as written", name)
}

// ExpandRunVars returns s with {{run_id}} replaced by runID and {{date}} by
// now's UTC date, YYYY-MM-DD.
func ExpandRunVars(s, runID string, now time.Time) string {
	vals := map[string]string{"run_id": runID, "date": now.UTC().Format(time.DateOnly)}
	return replaceRunVars(s, func(name string) string { return vals[name] })
}

// firstRunVar returns the name of the first run-time variable s refers
// to, or "".
func firstRunVar(s string) string {
	var first string
	replaceRunVars(s, func(name string) string {
		if first == "" {
			first = name
		}
		return ""
	})
	return first
}

// replaceRunVars replaces each run-time variable reference in s, written
// {{name}} or {{ name }}, by val(name).
func replaceRunVars(s string, val func(name string) string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			break
		}
		end := strings.Index(s[i:], "}}")
		if end < 0 {
			break
		}
		name := strings.TrimSpace(s[i+2 : i+end])
		b.WriteString(s[:i])
		if isRunVar(name) {
			b.WriteString(val(name))
		} else {
			b.WriteString(s[i : i+end+2])
		}
		s = s[i+end+2:]
	}
	b.WriteString(s)
	return b.String()
}

// NewRunID returns a new id for a run started at now: its UTC time to the
// millisecond and six random hex digits, as in "20260125T120003.123Z-3f9a2c",
// so that ids sort by start time and two runs in the same millisecond
// still differ.
func NewRunID(now time.Time) string {
	var r [3]byte
	_, _ = rand.Read(r[:]) // never fails (crypto/rand panics instead)
	return now.UTC().Format("20060102T150405.000Z") + "-" + hex.EncodeToString(r[:])
}
