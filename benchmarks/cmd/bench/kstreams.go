package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/conveyor-etl/conveyor/benchmarks/internal/gen"
	"github.com/conveyor-etl/conveyor/benchmarks/internal/kit"
)

// The Kafka Streams scenarios run benchmarks/kstreams (a Java program built
// with Maven) as the child, on the same broker and topics as Conveyor's:
//
//	kstreams, kstreamseos     Example 3's job, at_least_once / exactly_once_v2
//	kswindow, kswindoweos     issue 17's windowed job over the timed records
//
// The program speaks the children's protocol (a start and an end line on
// stdout), so its CPU time (all JVM threads, from its start line) and peak
// RSS are measured as Conveyor's are.

// ksGuarantee is a Kafka Streams scenario's processing.guarantee.
func ksGuarantee(name string) string {
	if strings.HasSuffix(name, "eos") {
		return "exactly_once_v2"
	}
	return "at_least_once"
}

// transactional reports whether a scenario writes its output in
// transactions (its end offsets then count markers too).
func transactional(name string) bool { return strings.HasSuffix(name, "eos") }

// ksJar is the built program, or an error saying how to build it.
func (h *harness) ksJar() (string, error) {
	jar, _ := filepath.Abs(filepath.Join(h.opt.kstreamsDir, "target", "kstreams-bench.jar"))
	if _, err := os.Stat(jar); err != nil {
		return "", fmt.Errorf("%s is missing: build it with (cd %s && mvn -q package) (benchmarks/README.md, Kafka Streams)", jar, h.opt.kstreamsDir)
	}
	return jar, nil
}

// ksSpawn starts the Kafka Streams program for scenario name.
func (h *harness) ksSpawn(name, logName, mode, in, out, appID string, records int64) (*proc, error) {
	jar, err := h.ksJar()
	if err != nil {
		return nil, err
	}
	stateDir, _ := filepath.Abs(filepath.Join(h.opt.out, "kstreams-state", appID))
	h.files = append(h.files, stateDir)
	args := strings.Fields(h.opt.javaOpts)
	args = append(args, "-cp", jar+string(os.PathListSeparator)+filepath.Join(filepath.Dir(jar), "lib", "*"), "conveyor.bench.Main",
		"--mode", mode, "--brokers", strings.Join(h.brokers, ","), "--in", in, "--out", out, "--app-id", appID,
		"--guarantee", ksGuarantee(name), "--records", strconv.FormatInt(records, 10), "--state-dir", stateDir,
		"--grace-ms", strconv.FormatInt(h.ksWindowGrace().Milliseconds(), 10))
	if mode == "window" && h.opt.windowByCountry {
		args = append(args, "--group-by-key", "true")
	}
	if h.opt.ksThreads > 0 {
		args = append(args, "--threads", strconv.Itoa(h.opt.ksThreads))
	}
	if h.opt.ksCommit > 0 {
		args = append(args, "--commit-ms", strconv.FormatInt(h.opt.ksCommit.Milliseconds(), 10))
	}
	return h.spawnCmd(logName, exec.Command(h.opt.java, args...))
}

// ksWindowGrace is the grace of Kafka Streams' windows: --kstreams-window-grace,
// by default --window-grace.
func (h *harness) ksWindowGrace() time.Duration {
	if h.opt.ksWindowGrace > 0 {
		return h.opt.ksWindowGrace
	}
	return h.opt.windowGrace
}

// ksNotes records what the JVM spent before its start line, which the CPU
// column leaves out as it leaves out a Go child's preparation.
func ksNotes(r *result, p *proc) {
	r.note("JVM start before the start line: %.2f s CPU (not in the CPU column)", p.prepCPU.Seconds())
}

// outCount is the number of records in topic: the sum of its end offsets,
// or for a transactional output the records a read_committed consumer is
// handed (the end offsets also count the markers).
func (h *harness) outCount(topic string, txn bool) (int64, error) {
	if txn {
		return kit.CountCommitted(h.admin.Client, topic)
	}
	end, err := h.admin.EndOffsets(topic)
	return kit.Sum(end), err
}

// kswindow runs issue 17's windowed job in Kafka Streams over the timed
// input: per country, one-minute tumbling windows of event time, count and
// sum(amount), emitted when each closes (window.go says how the input ends).
// It is done when the program has read every record (back from its
// repartition topic, unless the input is keyed by country) and closed
// (which commits); the time is from its start line to its end line. The
// output is then checked against gen.Windows (checkWindows).
func (h *harness) kswindow(name string, run int) *result {
	r, b0 := h.base(name, run)
	r.Records, r.InBytes = h.opt.windowRecords, h.winInBytes
	r.Expected = int64(len(gen.Windows(r.Records, time.Minute.Milliseconds())))
	out := h.name(fmt.Sprintf("%s-out-%d", name, run))
	// A window's record carries its event time, days before the run
	// (gen.EventBase): without retention.ms = -1 the broker's time-based
	// retention (7 days) would delete output while the run goes on.
	if err := h.createTopic(out, map[string]string{"retention.ms": "-1"}); err != nil {
		r.Err = err.Error()
		return r
	}
	app := h.name(fmt.Sprintf("%s-%d", name, run))
	// Its internal topics, deleted at the end with the others.
	h.topics = append(h.topics, app+"-by-country-repartition", app+"-orders-per-minute-changelog")
	p, err := h.ksSpawn(name, fmt.Sprintf("%s-%d", name, run), "window", h.winIn, out, app, h.windowInput())
	if err == nil {
		err = p.waitStart(120 * time.Second)
	}
	if err != nil {
		r.Err = err.Error()
		if p != nil {
			h.finish(r, p, b0)
		}
		return r
	}
	select {
	case <-p.exited:
	case <-time.After(time.Duration(r.Records/500+300) * time.Second):
		p.kill()
		r.Err = "not done in time"
	}
	h.finish(r, p, b0)
	if p.end.UnixNs > 0 {
		r.Elapsed = time.Unix(0, p.end.UnixNs).Sub(p.start)
	}
	ksNotes(r, p)
	if g := h.ksWindowGrace(); g != h.opt.windowGrace {
		r.note("grace %s (Conveyor's: %s)", g, h.opt.windowGrace)
	}
	if r.Err != "" {
		return r
	}
	if c, err := h.admin.Committed(app, h.winIn); err != nil || !kit.Reached(c, h.winInEnd) {
		r.Err = fmt.Sprintf("input commits %v did not reach the end %v (%v)", c, h.winInEnd, err)
		return r
	}
	h.checkWindows(r, out, transactional(name))
	return r
}
