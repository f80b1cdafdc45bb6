package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/flow"
)

// load parses and checks a pipeline file, or stdin when path is "-",
// reporting every problem.
func (a *app) load(path string) (*config.Pipeline, error) {
	p, err := a.readPipeline(path)
	if p == nil {
		return nil, err
	}
	return p, config.Merge(err, flow.Validate(p, flow.WithRegistry(a.reg)))
}

// readPipeline parses the pipeline file at path, or stdin (named "<stdin>"
// in errors) when path is "-".
func (a *app) readPipeline(path string) (*config.Pipeline, error) {
	if path != "-" {
		return config.Load(path)
	}
	data, err := io.ReadAll(a.stdin)
	if err != nil {
		return nil, fmt.Errorf("read pipeline from stdin: %w", err)
	}
	return config.Parse("<stdin>", data)
}

func (a *app) cmdValidate(args []string, stdout, stderr io.Writer) int {
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
		p, err := a.load(path)
		if err != nil {
			fmt.Fprintln(stderr, err)
			code = 1
			continue
		}
		for _, w := range append(a.missingInputs(p), a.configWarnings(p)...) {
			fmt.Fprintln(stderr, w)
		}
		fmt.Fprintf(stdout, "%s: ok\n", path)
		a.printRepartitions(p, stdout)
	}
	return code
}

func (a *app) cmdRun(args []string, stdout, stderr io.Writer) int {
	c := newCommand("run", "[flags] PIPELINE.toml|-",
		"run a pipeline (\"-\" reads it from stdin) until its sources end, then commit and print a summary")
	level := c.String("log-level", "", "debug, info, warn or error (default: [global] log_level, else info)")
	format := c.String("log-format", "auto", "console, json, or auto (console on a terminal)")
	noProgress := c.Bool("no-progress", false, "no live progress line (there is none when stderr is not a terminal)")
	httpAddr := c.String("http-addr", "", "serve /metrics, /healthz and /readyz on this host:port while running (default: [global] http_addr, else none)")
	summaryJSON := c.String("summary-json", "", "write the end-of-run summary, per stage, as JSON to this file")
	if exit, ok := c.parse(args, stdout, stderr); !ok {
		return exit
	}
	if c.NArg() != 1 {
		return c.badArgs(stderr, "want one pipeline file, got %d arguments", c.NArg())
	}
	p, err := a.load(c.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if *level == "" {
		*level = p.Global.LogLevel
	}
	if p.Pipeline.Name == "" { // the logs and the summary name it somehow
		p.Pipeline.Name = c.Arg(0)
		if c.Arg(0) == "-" {
			p.Pipeline.Name = "<stdin>"
		}
	}
	tty := isTerminal(stderr)
	// The logger and the summary below share stderr, and a stage may still
	// log (a closing client) as the summary is printed: one lock for both.
	stderr = zapcore.Lock(zapcore.AddSync(stderr))
	logTo := stderr
	var opts []flow.Option
	var pr *progress
	if tty && !*noProgress {
		pr = a.newProgress(p, stderr)
		logTo = pr // a log line clears the progress line first
		opts = append(opts, flow.WithProgress(progressInterval, pr.update))
	}
	log, err := newLogger(*level, *format, logTo, tty)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	defer log.Sync() //nolint:errcheck
	ctx, stop := signalContext(a.ctx, log)
	defer stop()
	if *httpAddr != "" {
		opts = append(opts, flow.WithHTTPAddr(*httpAddr))
	}
	sum, err := flow.Execute(ctx, p, append(opts, flow.WithLogger(log), flow.WithRegistry(a.reg))...)
	if pr != nil {
		pr.close()
	}
	if sum.In == 0 {
		for _, w := range a.emptyInputs(p) {
			fmt.Fprintf(stderr, "conveyor: %s\n", w)
		}
	}
	fmt.Fprintln(stderr, summaryLine(p.Pipeline.Name, sum))
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

// summaryLine is the end-of-run line of run and demo: "conveyor: NAME:
// records in=... | stages: ...".
func summaryLine(name string, sum flow.Summary) string {
	return fmt.Sprintf("conveyor: %s: %s", name, sum)
}

// signalContext is cancelled with parent or by the first SIGINT or SIGTERM
// (drain and commit); a second signal exits at once.
func signalContext(parent context.Context, log *zap.Logger) (context.Context, func()) {
	ctx, cancel := context.WithCancel(parent)
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

// newLogger logs at level (default info) to w, as format: console, json,
// or auto (console when tty, else JSON). Durations are logged with their
// unit, and levels are coloured only when tty, which says whether w ends
// on a terminal.
func newLogger(level, format string, w io.Writer, tty bool) (*zap.Logger, error) {
	lvl := zapcore.InfoLevel
	if level != "" {
		if err := lvl.Set(level); err != nil {
			return nil, fmt.Errorf("--log-level: %w", err)
		}
	}
	if format == "auto" {
		format = "json"
		if tty {
			format = "console"
		}
	}
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	enc.EncodeDuration = zapcore.StringDurationEncoder // "30s", not 30000000000
	var encoder zapcore.Encoder
	switch format {
	case "console":
		enc.EncodeLevel = zapcore.CapitalLevelEncoder
		if tty { // colour codes only for a terminal, not in a file or a pipe
			enc.EncodeLevel = zapcore.CapitalColorLevelEncoder
		}
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
