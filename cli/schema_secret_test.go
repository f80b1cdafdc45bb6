package cli

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// The schema registry's password, password = "${VAR}" in schema_registry
// = {...} (or the flat schema_registry_password), never shows in what
// validate, info, graph and a run print, whatever is wrong: the runs here
// reach a registry that refuses the credentials, which must have been
// sent, in each spelling of the keys (so the keys do work).
func TestSchemaRegistryPasswordNeverPrinted(t *testing.T) {
	const secret = "Okapi-7f3a19c2-NeverPrint"
	t.Setenv("CONVEYOR_TEST_SR_PASSWORD", secret)
	var sent atomic.Int32
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Basic "+base64.StdEncoding.EncodeToString([]byte("conveyor:"+secret)) {
			sent.Add(1)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"error_code":401,"message":"Unauthorized"}`)
	}))
	defer reg.Close()
	c := newSecretCLI(t, secret)
	// pipeline's registry lines start on line 10.
	pipeline := func(registry string) string {
		return c.write("p.toml", fmt.Sprintf(`
[[stages]]
id = "consume"
function = "kafka"
[stages.config]
brokers = "127.0.0.1:1"
topic = "in"
group_id = "g"
value_format = "avro"
%s

[[stages]]
id = "out"
function = "stdout.write"
inputs = ["consume"]
`, strings.ReplaceAll(registry, "URL", reg.URL)))
	}
	const (
		inline = `schema_registry = { url = "URL", username = "conveyor", password = "${CONVEYOR_TEST_SR_PASSWORD}" }`
		table  = "[stages.config.schema_registry]\nurl = \"URL\"\nusername = \"conveyor\"\npassword = \"${CONVEYOR_TEST_SR_PASSWORD}\""
		flat   = "schema_registry_url = \"URL\"\nschema_registry_username = \"conveyor\"\nschema_registry_password = \"${CONVEYOR_TEST_SR_PASSWORD}\""
	)
	for _, tt := range []struct{ name, registry, want string }{
		{"a misspelt key in the table", `schema_registry = { pasword = "${CONVEYOR_TEST_SR_PASSWORD}", url = "URL" }`,
			`p.toml:10:21: stages[0] "consume" config.schema_registry.pasword: unknown key (did you mean "password"?)`},
		{"a misspelt key under its header", "[stages.config.schema_registry]\nurl = \"URL\"\npassword = \"${CONVEYOR_TEST_SR_PASSWORD}\"\nusrname = \"conveyor\"",
			`p.toml:13:1: stages[0] "consume" config.schema_registry.usrname: unknown key (did you mean "username"?)`},
		{"a flat key misspelt", `schema_registry_url = "URL"` + "\n" + `schema_registry_pasword = "${CONVEYOR_TEST_SR_PASSWORD}"`,
			`p.toml:11:1: stages[0] "consume" config.schema_registry_pasword: unknown key (did you mean "schema_registry_password"?)`},
		{"the password not a string", `schema_registry = { password = ["${CONVEYOR_TEST_SR_PASSWORD}"], url = "URL" }`,
			`p.toml:10:21: stages[0] "consume" config.schema_registry.password: want a string, got a value (hidden: secret)`},
		{"the table and a flat key", inline + "\nschema_registry_password = \"${CONVEYOR_TEST_SR_PASSWORD}\"",
			`p.toml:11:1: stages[0] "consume" config.schema_registry_password: set schema_registry = { url = "...", ... } or the flat schema_registry_* keys, not both`},
		{"the table without url", `schema_registry = { password = "${CONVEYOR_TEST_SR_PASSWORD}" }`,
			`p.toml:10:1: stages[0] "consume" config.schema_registry.url: required with value_format = "avro"`},
		{"a repeated key", inline + "\nvalue_format = \"avro\"", `p.toml:11:1: invalid TOML: key value_format is already defined`},
	} {
		code, out := c.run("validate", pipeline(tt.registry))
		if code != 1 || !strings.Contains(out, tt.want) {
			t.Errorf("validate (%s): exit %d, want 1 and %q:\n%s", tt.name, code, tt.want, out)
		}
	}
	code, out := c.run("info", "kafka")
	for _, want := range []string{"\n  schema_registry  ", "\n  schema_registry.url  ", "\n  schema_registry.password  ", "\n  schema_registry_password  "} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("info kafka: exit %d, lacks %q:\n%s", code, want, out)
		}
	}
	for _, registry := range []string{inline, table, flat} {
		p := pipeline(registry)
		if code, out := c.run("validate", p); code != 0 {
			t.Errorf("validate %s: exit %d:\n%s", registry, code, out)
		}
		if code, out := c.run("graph", p); code != 0 {
			t.Errorf("graph: exit %d:\n%s", code, out)
		}
		before := sent.Load()
		code, out := c.run("run", "--log-level", "debug", "--log-format", "json", p)
		if code != 1 || !strings.Contains(out, "schema registry "+reg.URL) || !strings.Contains(out, "Unauthorized") {
			t.Errorf("run %s: exit %d, want 1 naming the registry and its refusal:\n%s", registry, code, out)
		}
		if sent.Load() == before {
			t.Errorf("run %s: the registry never got the user name and password", registry)
		}
	}
}
