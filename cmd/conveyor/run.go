package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/flow"
)

// load parses and checks a pipeline file, or stdin when path is "-",
// reporting every problem.
func load(path string) (*config.Pipeline, error) {
	p, err := readPipeline(path)
	if p == nil {
		return nil, err
	}
	return p, config.Merge(err, dropReported(err, flow.Validate(p)))
}

// readPipeline parses the pipeline file at path, or stdin (named "<stdin>"
// in errors) when path is "-".
func readPipeline(path string) (*config.Pipeline, error) {
	if path != "-" {
		return config.Load(path)
	}
	data, err := io.ReadAll(stdin)
	if err != nil {
		return nil, fmt.Errorf("read pipeline from stdin: %w", err)
	}
	return config.Parse("<stdin>", data)
}

// dropReported leaves out the errors checked finds about a stage config key
// that parsed already reported (an unset ${VAR} or unknown {{name}}): the
// registry only sees the value left empty, and "must not be empty" after
// "environment variable X is not set" says nothing new.
func dropReported(parsed, checked error) error {
	var pes, ces config.Errors
	if !errors.As(parsed, &pes) || !errors.As(checked, &ces) {
		return checked
	}
	type stageKey struct {
		stage int
		key   string
	}
	bad := map[stageKey]bool{}
	for _, e := range pes {
		k := e.Key // "config.value[1]" is about "config.value"
		if rest, ok := strings.CutPrefix(k, "config."); ok {
			if i := strings.IndexAny(rest, ".["); i >= 0 {
				k = "config." + rest[:i]
			}
		}
		bad[stageKey{e.Stage, k}] = true
	}
	var out []error
	for _, e := range ces {
		if !strings.HasPrefix(e.Key, "config.") || !bad[stageKey{e.Stage, e.Key}] {
			out = append(out, e)
		}
	}
	return config.Merge(out...)
}

func cmdValidate(args []string, stdout, stderr io.Writer) int {
	c := newCommand("validate", "PIPELINE.toml|-...",
		"check pipelines (\"-\" reads one from stdin) without connecting to anything, reporting every problem")
	if exit, ok := c.parse(args, stdout, stderr); !ok {
		return exit
	}
	if c.NArg() == 0 {
		return c.badArgs(stderr, "no pipeline file given")
	}
	code := 0
	for _, path := range c.Args() {
		if _, err := load(path); err != nil {
			fmt.Fprintln(stderr, err)
			code = 1
			continue
		}
		fmt.Fprintf(stdout, "%s: ok\n", path)
	}
	return code
}

func cmdRun(args []string, stdout, stderr io.Writer) int {
	c := newCommand("run", "[flags] PIPELINE.toml|-",
		"run a pipeline (\"-\" reads it from stdin) until its sources end, then commit and print a summary")
	level := c.String("log-level", "", "debug, info, warn or error (default: [global] log_level, else info)")
	format := c.String("log-format", "auto", "console, json, or auto (console on a terminal)")
	httpAddr := c.String("http-addr", "", "serve /metrics, /healthz and /readyz on this host:port while running (default: [global] http_addr, else none)")
	summaryJSON := c.String("summary-json", "", "write the end-of-run summary, per stage, as JSON to this file")
	if exit, ok := c.parse(args, stdout, stderr); !ok {
		return exit
	}
	if c.NArg() != 1 {
		return c.badArgs(stderr, "want one pipeline file, got %d arguments", c.NArg())
	}
	p, err := load(c.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if *level == "" {
		*level = p.Global.LogLevel
	}
	log, err := newLogger(*level, *format, stderr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	defer log.Sync() //nolint:errcheck
	ctx, stop := signalContext(log)
	defer stop()
	opts := []flow.Option{flow.WithLogger(log)}
	if *httpAddr != "" {
		opts = append(opts, flow.WithHTTPAddr(*httpAddr))
	}
	sum, err := flow.Execute(ctx, p, opts...)
	fmt.Fprintf(stderr, "conveyor: %s: %s\n", p.Pipeline.Name, sum)
	if *summaryJSON != "" {
		if werr := writeSummary(*summaryJSON, p, sum, err); werr != nil {
			fmt.Fprintf(stderr, "conveyor: %v\n", werr)
			if err == nil {
				return 1
			}
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "conveyor: %v\n", err)
		return 1
	}
	return 0
}

// signalContext is cancelled by the first SIGINT or SIGTERM (drain and
// commit); a second one exits at once.
func signalContext(log *zap.Logger) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		s, ok := <-ch
		if !ok {
			return
		}
		log.Info("signal received: draining and committing (send again to exit at once)", zap.String("signal", s.String()))
		cancel()
		if _, ok := <-ch; ok {
			log.Warn("second signal: exiting without draining")
			os.Exit(130)
		}
	}()
	return ctx, func() { signal.Stop(ch); cancel() }
}

func newLogger(level, format string, w io.Writer) (*zap.Logger, error) {
	lvl := zapcore.InfoLevel
	if level != "" {
		if err := lvl.Set(level); err != nil {
			return nil, fmt.Errorf("--log-level: %w", err)
		}
	}
	if format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
				format = "console"
			}
		}
	}
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	var encoder zapcore.Encoder
	switch format {
	case "console":
		enc.EncodeLevel = zapcore.CapitalColorLevelEncoder
		encoder = zapcore.NewConsoleEncoder(enc)
	case "json":
		encoder = zapcore.NewJSONEncoder(enc)
	default:
		return nil, fmt.Errorf("--log-format: want console, json or auto, got %q", format)
	}
	// Locked: stages log from several goroutines, and w need not be safe
	// for concurrent writes (an os.File is; a bytes.Buffer is not).
	return zap.New(zapcore.NewCore(encoder, zapcore.Lock(zapcore.AddSync(w)), lvl)), nil
}
