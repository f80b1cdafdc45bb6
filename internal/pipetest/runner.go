package pipetest

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/plugin"
)

// Options tune a Run.
type Options struct {
	// Registry holds the pipelines' functions; its sources and sinks are
	// replaced by fixtures (or, with Embedded, kept).
	Registry *plugin.Registry
	// Embedded runs each case through an in-process Kafka broker with the
	// real kafka source and sink, instead of fixtures.
	Embedded bool
	// Match, when set, runs only the cases whose name it matches.
	Match *regexp.Regexp
}

// Run runs every test file under paths (a file, or a directory searched
// for *_test.toml, skipping testdata and hidden directories) and prints one
// line per case to w, with what differs under a failing one. It returns
// false when a case failed or a file could not be run; err is for paths
// that do not exist or hold no test file.
func Run(ctx context.Context, w io.Writer, paths []string, o Options) (bool, error) {
	files, err := Find(paths)
	if err != nil {
		return false, err
	}
	cases, failed, broken := 0, 0, 0
	for _, path := range files {
		n, bad, ran := runFile(ctx, w, path, o)
		cases += n
		failed += bad
		if !ran {
			broken++
		}
	}
	switch {
	case broken > 0:
		fmt.Fprintf(w, "FAIL: %d of %d file(s) could not be run; %d of %d case(s) failed\n", broken, len(files), failed, cases)
	case failed > 0:
		fmt.Fprintf(w, "FAIL: %d of %d case(s) failed\n", failed, cases)
	default:
		fmt.Fprintf(w, "ok: %d case(s) in %d file(s)\n", cases, len(files))
	}
	return failed == 0 && broken == 0, nil
}

// runFile runs one test file and returns how many cases it ran and how
// many failed; ran is false when the file or its pipeline has errors.
func runFile(ctx context.Context, w io.Writer, path string, o Options) (cases, failed int, ran bool) {
	fmt.Fprintf(w, "=== %s\n", path)
	f, err := Load(path)
	if err == nil {
		var p *config.Pipeline
		if p, err = f.loadPipeline(o.Registry); err == nil {
			err = f.resolveStages(stagesOf(p, o.Registry))
		}
	}
	if err != nil {
		fmt.Fprintf(w, "--- FAIL: %s\n%s\n", path, indent(err.Error()))
		return 0, 0, false
	}
	for i := range f.Tests {
		c := &f.Tests[i]
		if o.Match != nil && !o.Match.MatchString(c.Name) {
			continue
		}
		cases++
		start := time.Now()
		fails := f.runCase(ctx, c, o)
		status := "PASS"
		if len(fails) > 0 {
			status = "FAIL"
			failed++
		}
		fmt.Fprintf(w, "--- %s: %s (%.2fs)\n", status, c.Name, time.Since(start).Seconds())
		for _, msg := range fails {
			fmt.Fprintln(w, indent(msg))
		}
	}
	return cases, failed, true
}

// runCase runs one case on a fresh copy of the pipeline and returns what
// differs from its expectations.
func (f *File) runCase(ctx context.Context, c *Case, o Options) []string {
	p, err := f.loadPipeline(o.Registry)
	if err != nil {
		return []string{err.Error()}
	}
	var out *outcome
	if o.Embedded {
		out, err = runEmbedded(ctx, f, o.Registry, c)
	} else {
		out, err = runFixtures(ctx, p, o.Registry, c)
	}
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", c.Pos, err)}
	}
	return f.check(c, out)
}

// Find lists the test files under paths, in order: a path that is a file
// is taken as it is; a directory is searched for *_test.toml.
func Find(paths []string) ([]string, error) {
	if len(paths) == 0 {
		paths = []string{"."}
	}
	var out []string
	for _, root := range paths {
		fi, err := os.Stat(root)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			out = append(out, root)
			continue
		}
		n := len(out)
		err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && path != root && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			if !d.IsDir() && strings.HasSuffix(d.Name(), "_test.toml") {
				out = append(out, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(out) == n {
			return nil, fmt.Errorf("no *_test.toml file under %s", root)
		}
	}
	return out, nil
}
