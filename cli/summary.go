package cli

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/flow"
)

// runSummary is what `conveyor run --summary-json FILE` writes when the run
// ends, for schedulers (schema_version 1; fields are only ever added):
//
//	{
//	  "schema_version": 1,
//	  "pipeline": "kafka-etl-example",   // [pipeline] name, else the file's name
//	  "file": "examples/kafka-etl-example.toml",
//	  "ok": true,                        // false: the run failed, "error" says why
//	  "error": "",
//	  "elapsed_seconds": 1.204,
//	  "records_per_second": 24917.3,     // records in over elapsed
//	  "totals": {"in": 30000, "out": 15000, "filtered": 15000, "failed": 0, "dead_lettered": 0, "in_bytes": 3456789},
//	  "stages": [                        // file order
//	    {"id": "input", "function": "kafka", "role": "source", "in": 30000, "out": 30000, "filtered": 0, "failed": 0, "dead_lettered": 0},
//	    ...
//	  ]
//	}
//
// The totals and a stage's counts mean what the summary line's do (see
// flow.Summary: each total counts a record once; schema_version stayed 1
// when filtered stopped summing the drops of every branch of a fan-out):
// a source's in and out are the records it read; an operator's in reached
// it, out left it, filtered were dropped; a sink's in were handed to it and
// out made durable; failed and dead_lettered count its records given up
// on and sent to the dead-letter queue.
type runSummary struct {
	SchemaVersion int            `json:"schema_version"`
	Pipeline      string         `json:"pipeline"`
	File          string         `json:"file"`
	OK            bool           `json:"ok"`
	Error         string         `json:"error"`
	Elapsed       float64        `json:"elapsed_seconds"`
	Rate          float64        `json:"records_per_second"`
	Totals        summaryTotals  `json:"totals"`
	Stages        []summaryStage `json:"stages"`
}

type summaryTotals struct {
	In           int64 `json:"in"`
	Out          int64 `json:"out"`
	Filtered     int64 `json:"filtered"`
	Failed       int64 `json:"failed"`
	DeadLettered int64 `json:"dead_lettered"`
	InBytes      int64 `json:"in_bytes"`
}

type summaryStage struct {
	ID           string `json:"id"`
	Function     string `json:"function"`
	Role         string `json:"role"`
	In           int64  `json:"in"`
	Out          int64  `json:"out"`
	Filtered     int64  `json:"filtered"`
	Failed       int64  `json:"failed"`
	DeadLettered int64  `json:"dead_lettered"`
}

// writeSummary writes the run's summary as JSON to path.
func writeSummary(path string, p *config.Pipeline, sum flow.Summary, runErr error) error {
	s := runSummary{SchemaVersion: 1, Pipeline: pipelineName(p), File: p.File, OK: runErr == nil,
		Elapsed: sum.Elapsed.Seconds(), Rate: sum.RecordsPerSecond(),
		Totals: summaryTotals{In: sum.In, Out: sum.Out, Filtered: sum.Filtered, Failed: sum.Failed, DeadLettered: sum.DeadLettered, InBytes: sum.InBytes},
		Stages: []summaryStage{}}
	if runErr != nil {
		s.Error = runErr.Error()
	}
	for _, st := range sum.Stages {
		s.Stages = append(s.Stages, summaryStage{ID: st.ID, Function: st.Function, Role: st.Role,
			In: st.In, Out: st.Out, Filtered: st.Filtered, Failed: st.Failed, DeadLettered: st.DeadLettered})
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("--summary-json: %w", err)
	}
	return nil
}

// pipelineName is the pipeline's name, else its file's.
func pipelineName(p *config.Pipeline) string {
	if p.Pipeline.Name != "" {
		return p.Pipeline.Name
	}
	return p.File
}
