package config_test

import (
	"strings"
	"testing"

	"github.com/conveyor-etl/conveyor/config"
)

type docEntry struct {
	Name   string `key:"name" required:"true"`
	Count  int    `key:"count" min:"0"`
	Pos    config.Pos
	KeyPos map[string]config.Pos
}

func (e *docEntry) SetDefaults() { e.Count = -1 }

type docFile struct {
	Title   string     `key:"title"`
	Entries []docEntry `key:"entries"`
	Inner   struct {
		On bool `key:"on"`
	} `key:"inner"`
}

// TestDecodeDocument: nested tables and arrays of tables decode with their
// defaults and positions, and every problem names file:line:col and the
// key's path.
func TestDecodeDocument(t *testing.T) {
	var f docFile
	err := config.DecodeDocument("d.toml", []byte(`title = "t"
[inner]
on = true

[[entries]]
name = "a"

[[entries]]
name = "b"
count = 3
`), &f)
	if err != nil {
		t.Fatal(err)
	}
	if f.Title != "t" || !f.Inner.On || len(f.Entries) != 2 || f.Entries[0].Count != -1 || f.Entries[1].Count != 3 ||
		f.Entries[1].Pos != (config.Pos{File: "d.toml", Line: 8, Col: 1}) || f.Entries[1].KeyPos["count"] != (config.Pos{File: "d.toml", Line: 10, Col: 1}) {
		t.Fatalf("decoded %+v", f)
	}
	err = config.DecodeDocument("d.toml", []byte(`entries = 3
inner = { on = "maybe" }
`), &f)
	want := `d.toml:1:1: entries: must be an array of tables ([[entries]]), got an integer
d.toml:2:11: inner.on: want true or false, got "maybe"`
	if err == nil || err.Error() != want {
		t.Fatalf("got:\n%v\nwant:\n%s", err, want)
	}
	err = config.DecodeDocument("d.toml", []byte(`[[entries]]
count = -2
title = "late"
`), &f)
	if err == nil || !strings.Contains(err.Error(), `d.toml:1:1: entries[0].name: missing required key`) ||
		!strings.Contains(err.Error(), `d.toml:2:1: entries[0].count: want a whole number >= 0, got an integer -2`) ||
		!strings.Contains(err.Error(), `d.toml:3:1: entries[0].title: unknown key here (title is a key of the top of the file`) {
		t.Fatalf("got:\n%v", err)
	}
}
