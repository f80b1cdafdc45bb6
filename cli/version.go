package cli

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

func (a *app) cmdVersion(args []string, stdout, stderr io.Writer) int {
	c := newCommand("version", "", "print the module version, the VCS commit it was built from and the Go version")
	if exit, ok := c.parse(args, stdout, stderr); !ok {
		return exit
	}
	if c.NArg() != 0 {
		return c.badArgs(stderr, "takes no arguments")
	}
	info, _ := debug.ReadBuildInfo()
	fmt.Fprintln(stdout, versionLine(info))
	return 0
}

// versionLine is "conveyor VERSION (commit REV[+dirty]) GOVERSION" from the
// build info that `go build` and `go run` stamp into the binary (the commit
// only inside a git checkout); "(devel)" and "unknown" stand for what the
// build did not record.
func versionLine(info *debug.BuildInfo) string {
	version, commit, goVersion := "(devel)", "unknown", runtime.Version()
	if info != nil {
		if v := info.Main.Version; v != "" {
			version = v
		}
		if info.GoVersion != "" {
			goVersion = info.GoVersion
		}
		dirty := false
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if dirty && commit != "unknown" {
			commit += "+dirty"
		}
	}
	return fmt.Sprintf("conveyor %s (commit %s) %s", version, commit, goVersion)
}
