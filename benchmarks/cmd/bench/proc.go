package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is one scenario's child process.
type proc struct {
	cmd     *exec.Cmd
	started chan struct{} // closed on the child's "start" event
	start   time.Time
	prepCPU time.Duration // the child's CPU time at its "start" event
	ended   chan struct{} // closed when stdout is drained
	end     childEvent
	exited  chan struct{} // closed once the process has exited
	waitErr error
	logPath string
}

// spawn starts this binary as the child for spec; its stderr goes to
// <out>/<name>.log.
func (h *harness) spawn(name string, spec childSpec) (*proc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	js, _ := json.Marshal(spec)
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), childEnv+"="+string(js))
	return h.spawnCmd(name, cmd)
}

// spawnCmd starts cmd as a scenario's child: it speaks the child protocol
// on stdout (childEvent lines); its stderr goes to <out>/<name>.log.
func (h *harness) spawnCmd(name string, cmd *exec.Cmd) (*proc, error) {
	logPath := filepath.Join(h.opt.out, name+".log")
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stderr = lf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, started: make(chan struct{}), ended: make(chan struct{}), exited: make(chan struct{}), logPath: logPath}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, err
	}
	go func() {
		defer close(p.ended)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var ev childEvent
			if json.Unmarshal(sc.Bytes(), &ev) != nil {
				continue
			}
			switch ev.Event {
			case "start":
				p.start = time.Unix(0, ev.UnixNs)
				p.prepCPU = time.Duration(ev.CPU)
				close(p.started)
			case "end":
				p.end = ev
			}
		}
	}()
	go func() {
		<-p.ended
		p.waitErr = cmd.Wait()
		lf.Close()
		close(p.exited)
	}()
	return p, nil
}

// waitStart waits for the child's start event (or its exit).
func (p *proc) waitStart(timeout time.Duration) error {
	select {
	case <-p.started:
		return nil
	case <-p.exited:
		return fmt.Errorf("child exited before starting: %v (log: %s)", p.waitErr, p.logPath)
	case <-time.After(timeout):
		p.kill()
		return fmt.Errorf("child did not start within %s (log: %s)", timeout, p.logPath)
	}
}

func (p *proc) terminate() { _ = p.cmd.Process.Signal(syscall.SIGTERM) }

// stop asks the child to drain and exit (SIGTERM), and kills it if it has
// not exited after grace.
func (p *proc) stop(grace time.Duration) {
	p.terminate()
	select {
	case <-p.exited:
	case <-time.After(grace):
		p.kill()
		<-p.exited
	}
}
func (p *proc) kill() { _ = p.cmd.Process.Kill() }

// usage returns the child's CPU time (user+system) from its "start" event
// to its exit, and its ru_maxrss in bytes.
func (p *proc) usage() (cpu time.Duration, maxRSS int64) {
	if p.cmd.ProcessState == nil {
		return 0, 0
	}
	if ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		return time.Duration(ru.Utime.Nano()+ru.Stime.Nano()) - p.prepCPU, ru.Maxrss * 1024
	}
	return p.cmd.ProcessState.UserTime() + p.cmd.ProcessState.SystemTime() - p.prepCPU, 0
}

// procStatus reads VmRSS and VmHWM (bytes) of a running process.
func procStatus(pid int) (rss, hwm int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = v * 1024
		case "VmHWM:":
			hwm = v * 1024
		}
	}
	return rss, hwm
}

// procCPU reads a process's user+system CPU time from /proc (clock ticks
// of 10 ms).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+2:]
	}
	f := strings.Fields(s)
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// selfCPU is this process's CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// load1 is the 1-minute load average.
func load1() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}
