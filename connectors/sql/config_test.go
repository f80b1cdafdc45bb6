package sql_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/connectors/sql"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/plugin"
)

func loadText(t *testing.T, text string) (*config.Pipeline, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "p.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return p, path
}

// Bad keys are reported together, each naming the file, line, stage and
// key, before anything connects.
func TestConfigErrorsNameStageAndKey(t *testing.T) {
	p, path := loadText(t, `
[pipeline]
name = "bad"

[[stages]]
id = "outbox"
function = "sql.outbox"
[stages.config]
dsn = "postgres://127.0.0.1:1/db"
topic = "orders; DROP TABLE x"
batch_size = 0

[[stages]]
id = "rows"
function = "sql.write"
inputs = ["outbox"]
[stages.config]
dsn = ""
topic = "out"
max_rows_per_insert = 30000
`)
	err := flow.Validate(p)
	if err == nil {
		t.Fatal("Validate accepted the bad keys")
	}
	msg := err.Error()
	for _, want := range []string{"p.toml", `"outbox"`, "topic", "only letters, digits", "batch_size", `"rows"`, "dsn", "max_rows_per_insert"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not mention %s:\n%s", want, msg)
		}
	}
	if !strings.Contains(msg, filepath.Base(path)+":") {
		t.Errorf("error names no file:line:\n%s", msg)
	}
}

// The outbox stores its offset as rows are acked, so it refuses a sink
// that is durable only at the end of the run, before connecting.
func TestOutboxRefusesJSONWrite(t *testing.T) {
	p, _ := loadText(t, `
[pipeline]
name = "outbox-to-file"

[[stages]]
id = "outbox"
function = "sql.outbox"
[stages.config]
dsn = "postgres://127.0.0.1:1/db"
topic = "orders"

[[stages]]
id = "file"
function = "json.write"
inputs = ["outbox"]
[stages.config]
path = "out.json"
`)
	_, err := flow.Execute(context.Background(), p)
	if err == nil || !strings.Contains(err.Error(), "durable only when the run ends") || !strings.Contains(err.Error(), `"outbox"`) {
		t.Fatalf("err = %v, want the outbox stage refusing a sink durable only at the end", err)
	}
}

// A config built in Go skips the file's checks: with max_rows_per_insert =
// 0 the Publisher looped for ever on its first Publish; now it is refused
// before anything connects. (The topic is not required: the Go API takes
// it with each Publish.)
func TestConstructorsValidate(t *testing.T) {
	w := sql.DefaultWriteConfig()
	w.DSN, w.Topic, w.MaxRowsPerInsert = "postgres://nobody@127.0.0.1:1/none", "t", 0
	if _, err := sql.NewPublisher(w, plugin.Env{}); err == nil || !strings.Contains(err.Error(), "max_rows_per_insert") {
		t.Errorf("NewPublisher with max_rows_per_insert = 0: %v, want the key named", err)
	}
}

// The DSN, which may hold a password, never shows when a config is
// printed, JSON-encoded or logged (it is a config.Secret, as kafka's
// sasl_password is); the value is still there for pgx.
func TestDSNNeverShown(t *testing.T) {
	const password = "Zebra-9d1c-NeverShow"
	dsn := "postgres://conveyor:" + password + "@db.example:5432/orders"
	w, o := sql.DefaultWriteConfig(), sql.DefaultOutboxConfig()
	w.DSN, o.DSN = config.Secret(dsn), config.Secret(dsn)
	var out strings.Builder
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(&out), zap.DebugLevel))
	for _, v := range []any{w, *w, o, *o, w.ConnConfig, &o.ConnConfig, w.DSN} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			fmt.Fprintf(&out, verb+"\n", v)
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out.Write(b)
		log.Info("config", zap.Any("config", v))
	}
	log.Sugar().Infow("config", "write", w, "outbox", o)
	if s := out.String(); strings.Contains(s, password) || strings.Contains(s, fmt.Sprintf("%x", password)) {
		t.Errorf("the DSN's password shows:\n%s", s)
	}
	if !strings.Contains(out.String(), `"DSN":"[redacted]"`) {
		t.Errorf("want the DSN shown as [redacted]:\n%s", out.String())
	}
	if string(w.DSN) != dsn {
		t.Error("the DSN lost its value")
	}
}
