package plugintest_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/conveyor-etl/conveyor/plugin"
	"github.com/conveyor-etl/conveyor/plugin/plugintest"
)

// In a plugin's own tests, TestOperator runs the checks as subtests. The
// case builds the operator as its factory would, and names an input that
// exercises it.
func ExampleTestOperator() {
	var t *testing.T // in func TestConformance(t *testing.T)
	plugintest.TestOperator(t, plugintest.OperatorCase{
		New: func(testing.TB) plugin.Operator {
			return plugin.OperatorFunc(func(in, out []plugin.Record, _ func(int, error)) []plugin.Record {
				for _, r := range in {
					if bytes.Contains(r.Value, []byte(`"keep":true`)) {
						out = append(out, r)
					}
				}
				return out
			})
		},
		Input: [][]byte{[]byte(`{"keep":true}`), []byte(`{"keep":false}`), []byte(`{}`)},
	})
}

// CheckOperator runs the same checks outside a test. An operator that
// writes its output over out instead of appending to it breaks the
// contract that the runtime relies on to gather several operators' output
// in one slice.
func ExampleCheckOperator() {
	upper := func(in, out []plugin.Record, _ func(int, error)) []plugin.Record {
		for _, r := range in {
			out = append(out, plugin.Record{Value: bytes.ToUpper(r.Value), Offset: r.Offset})
		}
		return out
	}
	fmt.Println("upper:", plugintest.CheckOperator(plugintest.OperatorCase{
		New: func(testing.TB) plugin.Operator { return plugin.OperatorFunc(upper) },
	}))

	overwrite := func(in, out []plugin.Record, fail func(int, error)) []plugin.Record {
		return upper(in, out[:0], fail)
	}
	err := plugintest.CheckOperator(plugintest.OperatorCase{
		New: func(testing.TB) plugin.Operator { return plugin.OperatorFunc(overwrite) },
	})
	fmt.Println("overwrite fails:", failedChecks(err))
	// Output:
	// upper: <nil>
	// overwrite fails: [appends]
}

// lineSink writes records as lines to a file, durable when Publish
// returns: a sink a plugin might register.
type lineSink struct {
	mu sync.Mutex
	f  *os.File
}

func (s *lineSink) Publish(_ string, msgs ...*message.Message) error {
	recs, err := plugin.RecordsOf(msgs)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		if _, err := s.f.Write(append(bytes.Clone(r.Value), '\n')); err != nil {
			return err
		}
	}
	return s.f.Sync()
}

func (s *lineSink) Close() error { return s.f.Close() }

// A sink case builds the sink over a fresh destination and says how to
// read back what it made durable.
func ExampleCheckSink() {
	err := plugintest.CheckSink(plugintest.SinkCase{
		New: func(t testing.TB) (plugin.Sink, plugintest.ReadBack) {
			path := filepath.Join(t.TempDir(), "out.jsonl")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			return &lineSink{f: f}, func(t testing.TB) [][]byte {
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				return bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
			}
		},
	})
	fmt.Println("lineSink:", err)
	// Output:
	// lineSink: <nil>
}

// A source case writes the suite's records to a fresh input and returns
// how to build sources over it; see connectors/kafka's conformance test
// for a source that records progress (Resumes).
func ExampleTestSource() {
	var t *testing.T // in func TestConformance(t *testing.T)
	plugintest.TestSource(t, plugintest.SourceCase{
		Input: func(t testing.TB, records [][]byte) plugintest.NewSource {
			path := filepath.Join(t.TempDir(), "in.jsonl")
			if err := os.WriteFile(path, append(bytes.Join(records, []byte("\n")), '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
			return func(ctx context.Context) (plugin.Source, error) {
				return newFileSource(path) // the plugin's own constructor
			}
		},
	})
}

func newFileSource(path string) (plugin.Source, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return fileSource(bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))), nil
}
