package plugintest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// check is one contract: a name for its subtest and a function that fails
// t when the contract is broken.
type check struct {
	name string
	run  func(t testing.TB)
}

// runChecks runs each check as a subtest of t.
func runChecks(t *testing.T, checks []check) {
	t.Helper()
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) { c.run(t) })
	}
}

// collectChecks runs each check outside a test and returns the failures,
// one error per failed check, named after it.
func collectChecks(checks []check) error {
	var errs []error
	for _, c := range checks {
		r := &recorder{name: c.name}
		r.run(c.run)
		if len(r.errs) > 0 {
			errs = append(errs, fmt.Errorf("%s: %s", c.name, strings.Join(r.errs, "; ")))
		}
	}
	return errors.Join(errs...)
}

// recorder is a testing.TB that records failures instead of reporting them
// to a test. The embedded interface is nil: it only satisfies testing.TB's
// unexported method; every method the suite and its cases may call is
// defined below.
type recorder struct {
	testing.TB
	name     string
	mu       sync.Mutex
	errs     []string
	skipped  bool
	cleanups []func()
	ctx      context.Context
	cancel   context.CancelFunc
}

// run calls f on its own goroutine, as a test does (FailNow ends it with
// runtime.Goexit), then runs the cleanups, last first.
func (r *recorder) run(f func(testing.TB)) {
	r.ctx, r.cancel = context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if p := recover(); p != nil {
				r.Errorf("panic: %v", p)
			}
		}()
		f(r)
	}()
	<-done
	r.cancel()
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		cleanupDone := make(chan struct{})
		go func() { defer close(cleanupDone); r.cleanups[i]() }()
		<-cleanupDone
	}
}

func (r *recorder) Helper()                           {}
func (r *recorder) Name() string                      { return r.name }
func (r *recorder) Context() context.Context          { return r.ctx }
func (r *recorder) Log(args ...any)                   {}
func (r *recorder) Logf(string, ...any)               {}
func (r *recorder) Error(args ...any)                 { r.add(fmt.Sprint(args...)) }
func (r *recorder) Errorf(format string, args ...any) { r.add(fmt.Sprintf(format, args...)) }
func (r *recorder) Fatal(args ...any)                 { r.add(fmt.Sprint(args...)); r.FailNow() }
func (r *recorder) Fatalf(format string, args ...any) {
	r.add(fmt.Sprintf(format, args...))
	r.FailNow()
}
func (r *recorder) Fail()                    { r.add("failed") }
func (r *recorder) FailNow()                 { runtime.Goexit() }
func (r *recorder) Skip(args ...any)         { r.SkipNow() }
func (r *recorder) Skipf(string, ...any)     { r.SkipNow() }
func (r *recorder) SkipNow()                 { r.mu.Lock(); r.skipped = true; r.mu.Unlock(); runtime.Goexit() }
func (r *recorder) Cleanup(f func())         { r.mu.Lock(); r.cleanups = append(r.cleanups, f); r.mu.Unlock() }
func (r *recorder) Setenv(key, value string) { panic("plugintest: Setenv outside a test") }
func (r *recorder) Chdir(dir string)         { panic("plugintest: Chdir outside a test") }
func (r *recorder) Output() io.Writer        { return io.Discard }
func (r *recorder) ArtifactDir() string      { return r.TempDir() }
func (r *recorder) Attr(key, value string)   {}

func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.errs) > 0
}

func (r *recorder) Skipped() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.skipped
}

func (r *recorder) TempDir() string {
	dir, err := os.MkdirTemp("", "plugintest")
	if err != nil {
		r.Fatalf("TempDir: %v", err)
	}
	r.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func (r *recorder) add(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, msg)
}
