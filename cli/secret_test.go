package cli

import (
	"bytes"
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
	dir := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	cmd := func(args ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := run(args, &out, &errOut)
		all := out.String() + errOut.String()
		if strings.Contains(all, secret) {
			t.Errorf("conveyor %s prints the password:\n%s", strings.Join(args, " "), all)
		}
		return code, all
	}

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
}
