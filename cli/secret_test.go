package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The password given as sasl_password = "${VAR}" never shows in what
// `conveyor validate` and `conveyor run --log-level debug` print, whatever
// is wrong with the pipeline (the full connection tests, against TLS+SASL
// brokers, are flow's TestIntegrationSecurity...).
func TestSecretNeverPrinted(t *testing.T) {
	const secret = "Zebra-5c9e41d7-NeverPrint"
	t.Setenv("CONVEYOR_TEST_SASL_PASSWORD", secret)
	c := newSecretCLI(t, secret)
	write, cmd := c.write, c.run

	broken := write("broken.toml", `
[[stages]]
id = "consume"
function = "kafka"
[stages.config]
brokers = "127.0.0.1:1"
topic = "in"
group_id = "g"
security_protocol = "SASL_SSL"
sasl_mechanism = "SCRAM-SHA-1"
sasl_username = "conveyor"
sasl_password = "${CONVEYOR_TEST_SASL_PASSWORD}"
sasl_pasword = "${CONVEYOR_TEST_SASL_PASSWORD}"

[[stages]]
id = "produce"
function = "kafka"
inputs = ["consume"]
[stages.config]
brokers = "127.0.0.1:1"
topic = "out"
security_protocol = "SSL"
sasl_password = ["${CONVEYOR_TEST_SASL_PASSWORD}"]
`)
	code, out := cmd("validate", broken)
	if code != 1 {
		t.Errorf("validate exit %d, want 1:\n%s", code, out)
	}
	for _, want := range []string{"config.sasl_mechanism", "config.sasl_pasword", "config.sasl_password: want a string, got a value (hidden: secret)"} {
		if !strings.Contains(out, want) {
			t.Errorf("validate output lacks %q:\n%s", want, out)
		}
	}

	// a valid pipeline whose brokers are not there: the run fails, logging at debug
	valid := write("valid.toml", `
[[stages]]
id = "consume"
function = "kafka"
[stages.config]
brokers = "127.0.0.1:1"
topic = "in"
group_id = "g"
security_protocol = "SASL_SSL"
sasl_mechanism = "SCRAM-SHA-512"
sasl_username = "conveyor"
sasl_password = "${CONVEYOR_TEST_SASL_PASSWORD}"
dial_timeout_ms = 1000

[[stages]]
id = "produce"
function = "stdout.write"
inputs = ["consume"]
`)
	if code, out := cmd("validate", valid); code != 0 {
		t.Fatalf("validate exit %d:\n%s", code, out)
	}
	code, out = cmd("run", "--log-level", "debug", "--log-format", "json", valid)
	if code != 1 || !strings.Contains(out, "cannot reach brokers 127.0.0.1:1") {
		t.Errorf("run exit %d, want 1 with a connection error:\n%s", code, out)
	}

	// The SQL DSN, which holds a password, likewise: in validate's errors,
	// in info, and in a run that cannot connect.
	t.Setenv("CONVEYOR_TEST_DSN", "postgres://conveyor:"+secret+"@127.0.0.1:1/db?sslmode=disable&connect_timeout=2")
	in := write("in.jsonl", "{\"n\":1}\n")
	sqlPipeline := func(dsn string) string {
		return write("sql.toml", fmt.Sprintf(`
[[stages]]
id = "load"
function = "json.read"
[stages.config]
path = %q

[[stages]]
id = "save"
function = "sql.write"
inputs = ["load"]
[stages.config]
dsn = %s
topic = "t"
`, in, dsn))
	}
	code, out = cmd("validate", sqlPipeline(`["${CONVEYOR_TEST_DSN}"]`))
	if code != 1 || !strings.Contains(out, "config.dsn: want a string, got a value (hidden: secret)") {
		t.Errorf("validate (dsn a list): exit %d:\n%s", code, out)
	}
	if code, out := cmd("info", "sql.write"); code != 0 || !strings.Contains(out, "\n  dsn ") {
		t.Errorf("info sql.write: exit %d:\n%s", code, out)
	}
	code, out = cmd("run", "--log-level", "debug", "--log-format", "json", sqlPipeline(`"${CONVEYOR_TEST_DSN}"`))
	if code != 1 || !strings.Contains(out, "127.0.0.1") {
		t.Errorf("run (sql): exit %d, want 1 naming the server:\n%s", code, out)
	}
}

// secretCLI runs `conveyor` on pipelines written in a temporary directory,
// failing the test whenever what a command prints holds secret.
type secretCLI struct {
	t           *testing.T
	dir, secret string
}

func newSecretCLI(t *testing.T, secret string) *secretCLI {
	return &secretCLI{t: t, dir: t.TempDir(), secret: secret}
}

// write writes text to the file name in the directory and returns its path.
func (c *secretCLI) write(name, text string) string {
	path := filepath.Join(c.dir, name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		c.t.Fatal(err)
	}
	return path
}

// run runs conveyor with args and returns its exit code and all it printed.
func (c *secretCLI) run(args ...string) (int, string) {
	c.t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	all := out.String() + errOut.String()
	if strings.Contains(all, c.secret) {
		c.t.Errorf("conveyor %s prints the password:\n%s", strings.Join(args, " "), all)
	}
	return code, all
}
