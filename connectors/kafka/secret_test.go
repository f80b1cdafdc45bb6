package kafka

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/conveyor-etl/conveyor/config"
)

const testSecret = "Hunter2-7f3a9c-NeverShow"

func secureConfigs() (*SourceConfig, *SinkConfig) {
	src, sink := DefaultSourceConfig(), DefaultSinkConfig()
	for _, c := range []*ClientConfig{&src.ClientConfig, &sink.ClientConfig} {
		c.Brokers = []string{"127.0.0.1:9192"}
		c.Security = Security{Protocol: "SASL_SSL", Mechanism: "SCRAM-SHA-512", Username: "conveyor", Password: testSecret, CAFile: "/etc/ca.pem"}
	}
	src.Topic, src.GroupID, sink.Topic = "in", "g", "out"
	// the schema registry's password, in the table and flat
	src.Registry = Registry{URL: "http://r", Username: "conveyor", Password: testSecret}
	sink.RegistryPassword = testSecret
	return src, sink
}

// Every fmt verb and flag, on the configs, their parts, pointers to them
// and the secret itself, prints "[redacted]" instead of the password and
// still shows the rest.
func TestSecretFmt(t *testing.T) {
	src, sink := secureConfigs()
	values := []any{src, *src, sink, *sink, src.ClientConfig, &src.ClientConfig, src.Security, &src.Security, src.Password, &src.Password,
		[]any{src.Password}, map[string]config.Secret{"p": src.Password}, struct{ P config.Secret }{src.Password},
		src.Registry, &src.Registry, src.SchemaRegistry, sink.SchemaRegistry}
	// (not %p of a struct value: see Secret's doc)
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "% x", "%d", "%t", "%T", "%10.4s", "%-20v", "%08v", "%U", "%c", "%e"}
	for _, v := range values {
		for _, verb := range verbs {
			if out := fmt.Sprintf(verb, v); strings.Contains(out, testSecret) || strings.Contains(out, fmt.Sprintf("%x", testSecret)) {
				t.Errorf("fmt %s of %T shows the password: %s", verb, v, out)
			}
		}
		if out := fmt.Sprint(v) + fmt.Sprintln(v); strings.Contains(out, testSecret) {
			t.Errorf("Sprint of %T shows the password: %s", v, out)
		}
	}
	got := fmt.Sprintf("%+v", src.Security)
	if !strings.Contains(got, "Password:[redacted]") || !strings.Contains(got, "Username:conveyor") || !strings.Contains(got, "/etc/ca.pem") {
		t.Errorf("%%+v of Security = %s; want the password redacted and the rest shown", got)
	}
	if got := fmt.Sprintf("%#v", src.Password); got != `"[redacted]"` {
		t.Errorf("%%#v = %s", got)
	}
	if got := fmt.Sprintf("%v|%q", config.Secret(""), config.Secret("")); got != `|""` {
		t.Errorf("an empty secret prints %s; want it empty", got)
	}
	// not a stored copy: the value is still there for the SASL client
	if string(src.Password) != testSecret {
		t.Fatal("the secret lost its value")
	}
	err := fmt.Errorf("connect with %v: %w", src, errors.New("boom"))
	if strings.Contains(err.Error(), testSecret) {
		t.Errorf("an error formatting the config shows the password: %v", err)
	}
}

// JSON, zap (JSON and console, fields, sugared, reflected) and slog never
// show the password.
func TestSecretEncoders(t *testing.T) {
	src, sink := secureConfigs()
	var b bytes.Buffer
	for _, v := range []any{src, sink, src.Security, src.Password} {
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(j)
		b.WriteByte('\n')
	}
	for _, enc := range []zapcore.Encoder{zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig())} {
		log := zap.New(zapcore.NewCore(enc, zapcore.AddSync(&b), zap.DebugLevel))
		log.Debug("cfg", zap.Any("source", src), zap.Any("sink", *sink), zap.Any("client", src.ClientConfig), zap.Any("security", src.Security),
			zap.Any("password", src.Password), zap.Reflect("reflected", sink), zap.Stringer("stringer", src.Password), zap.Inline(zapcore.ObjectMarshalerFunc(
				func(e zapcore.ObjectEncoder) error { return e.AddReflected("inline", src) })))
		log.Sugar().Debugw("cfg", "source", src, "password", src.Password)
		log.Sugar().Debugf("cfg %v %+v %#v", src, sink, src.Security)
	}
	for _, h := range []slog.Handler{slog.NewJSONHandler(&b, nil), slog.NewTextHandler(&b, nil)} {
		slog.New(h).Info("cfg", "source", src, "security", src.Security, "password", src.Password)
	}
	out := b.String()
	if strings.Contains(out, testSecret) {
		t.Errorf("an encoder shows the password:\n%s", out)
	}
	if !strings.Contains(out, `"Password":"[redacted]"`) || !strings.Contains(out, `"Username":"conveyor"`) {
		t.Errorf("expected JSON with the password redacted and the user shown:\n%s", out)
	}
}

// The redaction is only in how the secret shows: the SASL client gets it.
func TestSecretReachesSASL(t *testing.T) {
	src, _ := secureConfigs()
	src.CAFile = ""
	sc, err := src.saramaConfig()
	if err != nil {
		t.Fatal(err)
	}
	if sc.Net.SASL.Password != testSecret || sc.Net.SASL.User != "conveyor" {
		t.Fatalf("SASL user/password not passed to sarama")
	}
}

// A panic with a secret, a config or an error about one, left unrecovered,
// does not print the password (the runtime prints a Stringer's String()).
func TestSecretPanic(t *testing.T) {
	if kind := os.Getenv("CONVEYOR_SECRET_PANIC"); kind != "" {
		src, _ := secureConfigs()
		switch kind {
		case "secret":
			panic(src.Password)
		case "config":
			panic(*src)
		case "pointer":
			panic(src)
		case "error":
			panic(fmt.Errorf("bad config %+v", src))
		case "string":
			panic(fmt.Sprintf("bad config %#v", *src))
		}
		return
	}
	for _, kind := range []string{"secret", "config", "pointer", "error", "string"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSecretPanic$", "-test.count=1")
		cmd.Env = append(os.Environ(), "CONVEYOR_SECRET_PANIC="+kind, "GOTRACEBACK=all")
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "panic: ") {
			t.Fatalf("%s: the child did not panic (%v):\n%s", kind, err, out)
		}
		if strings.Contains(string(out), testSecret) {
			t.Errorf("panic(%s) prints the password:\n%s", kind, out)
		}
	}
}
