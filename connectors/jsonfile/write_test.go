package jsonfile

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/plugin"
)

// writeRun runs json.write once over recs, as a pipeline run does.
func writeRun(t *testing.T, c *WriteConfig, env plugin.Env, recs ...string) {
	t.Helper()
	s, err := NewWriter(context.Background(), c, env)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	batch := make([]plugin.Record, len(recs))
	for i, r := range recs {
		batch[i] = plugin.Record{Value: []byte(r)}
	}
	if err := s.(plugin.Sender).Send(context.Background(), batch).Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.(plugin.Flusher).Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// pipelineEnv loads a pipeline of the given stages from a file in dir and
// returns the env of its stage "w".
func pipelineEnv(t *testing.T, dir, stages string) plugin.Env {
	t.Helper()
	path := filepath.Join(dir, "p.toml")
	if err := os.WriteFile(path, []byte(stages), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	w := p.StageByID("w")
	return plugin.Env{Stage: w, Dir: p.Dir(), SourceFunctions: sourceFunctions(p, w), Logger: zap.NewNop()}
}

// sourceFunctions are the functions of the sources st reads from, as the
// runtime gives them in plugin.Env.
func sourceFunctions(p *config.Pipeline, st *config.Stage) []string {
	if len(st.Inputs) == 0 {
		return []string{st.Function}
	}
	var out []string
	for _, id := range st.Inputs {
		if in := p.StageByID(id); in != nil {
			out = append(out, sourceFunctions(p, in)...)
		}
	}
	return out
}

const kafkaStage = `
[[stages]]
id = "k"
function = "kafka"
[stages.config]
topic = "t"
`

const fileStage = `
[[stages]]
id = "f"
function = "json.read"
[stages.config]
path = "in.json"
`

func sinkStage(inputs string) string {
	return `
[[stages]]
id = "filter"
function = "filter.apply"
inputs = ` + inputs + `
[[stages]]
id = "w"
function = "json.write"
inputs = ["filter"]
`
}

// Mode auto appends when a source that commits what it consumed feeds the
// file (through any chain, fan-in included), and overwrites a file made
// from files only; the explicit modes do what they say, in both formats.
func TestWriteModes(t *testing.T) {
	for _, tc := range []struct {
		name, stages, mode string
		appends            bool
	}{
		{"kafka, auto", kafkaStage + sinkStage(`["k"]`), "auto", true},
		{"json.read, auto", fileStage + sinkStage(`["f"]`), "auto", false},
		{"json.read and kafka, auto", fileStage + kafkaStage + sinkStage(`["f", "k"]`), "auto", true},
		{"no pipeline, auto", "", "auto", true},
		{"kafka, overwrite", kafkaStage + sinkStage(`["k"]`), "overwrite", false},
		{"json.read, append", fileStage + sinkStage(`["f"]`), "append", true},
	} {
		for _, format := range []string{"records", "jsonl"} {
			dir := t.TempDir()
			env := plugin.Env{Logger: zap.NewNop()}
			if tc.stages != "" {
				env = pipelineEnv(t, dir, tc.stages)
			}
			c := DefaultWriteConfig()
			c.Path, c.Format, c.Mode = filepath.Join(dir, "out.json"), format, tc.mode
			writeRun(t, c, env, `{"run":1}`)
			writeRun(t, c, env, `{"run":2}`, `{"run":2.5}`)
			got := readValues(t, c.Path)
			want := []string{`{"run":2}`, `{"run":2.5}`}
			if tc.appends {
				want = append([]string{`{"run":1}`}, want...)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s, %s: after two runs the file holds %q, want %q", tc.name, format, got, want)
			}
		}
	}
}

// readValues reads back a file json.write wrote, through json.read.
func readValues(t *testing.T, path string) []string {
	t.Helper()
	batches, err := readSource(t, path, DefaultReadConfig())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, b := range batches {
		for _, r := range b {
			out = append(out, string(r.Value))
		}
	}
	return out
}

// {{run_id}} and {{date}} in the path are filled in per run: the run's id
// (or a new one), and the UTC date.
func TestWritePathTemplates(t *testing.T) {
	dir := t.TempDir()
	c := DefaultWriteConfig()
	c.Path = filepath.Join(dir, "{{date}}", "events-{{ run_id }}.json")
	before := time.Now().UTC().Format(time.DateOnly)
	writeRun(t, c, plugin.Env{RunID: "RUN1"}, `{"a":1}`)
	writeRun(t, c, plugin.Env{}, `{"a":2}`)
	writeRun(t, c, plugin.Env{}, `{"a":3}`)
	after := time.Now().UTC().Format(time.DateOnly)
	files, _ := filepath.Glob(filepath.Join(dir, "*", "events-*.json"))
	if len(files) != 3 {
		t.Fatalf("files %q, want three, one per run", files)
	}
	idRE := regexp.MustCompile(`^events-(RUN1|\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{6})\.json$`)
	for _, f := range files {
		day := filepath.Base(filepath.Dir(f))
		if day != before && day != after || !idRE.MatchString(filepath.Base(f)) {
			t.Errorf("file %s: want %s/events-<run id>.json", f, before)
		}
	}
	if !strings.HasSuffix(files[len(files)-1], "events-RUN1.json") {
		t.Errorf("files %q: want the one of run RUN1 among them", files)
	}
}

// An append that cannot be done is refused at the start with what to do,
// and the file is left alone.
func TestWriteAppendRefused(t *testing.T) {
	dir := t.TempDir()
	env := pipelineEnv(t, dir, kafkaStage+sinkStage(`["k"]`))
	path := filepath.Join(dir, "out.json")
	const existing = "{\"a\":1}\n"
	if err := os.WriteFile(path, []byte(existing), 0o644); err != nil {
		t.Fatal(err)
	}
	c := DefaultWriteConfig()
	c.Path = "out.json"
	_, err := NewWriter(context.Background(), c, env)
	want := `json.write (mode "auto" appends: a source feeding the stage commits what it consumed): jsonio: cannot append to ` + path +
		`: it holds JSON Lines, not the JSON array that format records appends to; set format to the file's, mode = "overwrite" to replace it, or write to another path`
	if err == nil || err.Error() != want {
		t.Errorf("error:\n  got:  %v\n  want: %s", err, want)
	}
	if got, _ := os.ReadFile(path); string(got) != existing {
		t.Errorf("file changed to %q", got)
	}
}

// Overwriting a file fed by Kafka says once, at the start, that the next
// run will replace this run's records; not when the path names the run.
func TestWriteOverwriteWarns(t *testing.T) {
	for path, warns := range map[string]bool{"out.json": true, "out-{{run_id}}.json": false} {
		dir := t.TempDir()
		env := pipelineEnv(t, dir, kafkaStage+sinkStage(`["k"]`))
		core, logs := observer.New(zapcore.WarnLevel)
		env.Logger = zap.New(core)
		c := DefaultWriteConfig()
		c.Path, c.Mode = path, "overwrite"
		writeRun(t, c, env, `{"a":1}`)
		if got := logs.FilterMessageSnippet(`mode = "overwrite" replaces the file on every run`).Len(); (got == 1) != warns {
			t.Errorf("path %s: %d warnings, want warning %v", path, got, warns)
		}
	}
}
