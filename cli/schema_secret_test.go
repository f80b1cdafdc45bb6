package cli

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// The schema registry's password, schema_registry_password = "${VAR}",
// never shows in what validate, info and a run print, whatever is wrong:
// the run here reaches a registry that refuses the credentials, which
// must have been sent (so the key does work).
func TestSchemaRegistryPasswordNeverPrinted(t *testing.T) {
	const secret = "Okapi-7f3a19c2-NeverPrint"
	t.Setenv("CONVEYOR_TEST_SR_PASSWORD", secret)
	var sent atomic.Bool
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Basic "+base64.StdEncoding.EncodeToString([]byte("conveyor:"+secret)) {
			sent.Store(true)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"error_code":401,"message":"Unauthorized"}`)
	}))
	defer reg.Close()
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
	pipeline := func(extra string) string {
		return write("p.toml", fmt.Sprintf(`
[[stages]]
id = "consume"
function = "kafka"
[stages.config]
brokers = "127.0.0.1:1"
topic = "in"
group_id = "g"
value_format = "avro"
schema_registry_url = %q
schema_registry_username = "conveyor"
schema_registry_password = "${CONVEYOR_TEST_SR_PASSWORD}"
%s

[[stages]]
id = "out"
function = "stdout.write"
inputs = ["consume"]
`, reg.URL, extra))
	}
	code, out := cmd("validate", pipeline(`schema_registry_pasword = "${CONVEYOR_TEST_SR_PASSWORD}"`))
	if code != 1 || !strings.Contains(out, "schema_registry_pasword") || !strings.Contains(out, "schema_registry_password") {
		t.Errorf("validate (a misspelt key): exit %d:\n%s", code, out)
	}
	code, out = cmd("validate", pipeline(`value_format = "avro"`))
	if code != 1 {
		t.Errorf("validate (a repeated key): exit %d:\n%s", code, out)
	}
	if code, out := cmd("info", "kafka"); code != 0 || !strings.Contains(out, "schema_registry_password") {
		t.Errorf("info kafka: exit %d:\n%s", code, out)
	}
	code, out = cmd("run", "--log-level", "debug", "--log-format", "json", pipeline(""))
	if code != 1 || !strings.Contains(out, "schema registry "+reg.URL) || !strings.Contains(out, "Unauthorized") {
		t.Errorf("run: exit %d, want 1 naming the registry and its refusal:\n%s", code, out)
	}
	if !sent.Load() {
		t.Error("the registry never got the user name and password")
	}
}
