package main

import (
	"fmt"
	"log"
	"os"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/conveyor-etl/conveyor/internal/telemetry"
)

// keptMetrics is a registry whose collectors stay registered when the
// run unregisters them at its end, for txnNote to read after the run.
type keptMetrics struct{ *prometheus.Registry }

func (keptMetrics) Unregister(prometheus.Collector) bool { return true }

// txnNote sums up an exactly-once run's transactions from its metrics:
// how many committed, records read per transaction, and the mean time a
// closing transaction let no batch in (drain, then commit). "" when the
// run had none.
func txnNote(reg prometheus.Gatherer) string {
	fams, err := reg.Gather()
	if err != nil {
		return ""
	}
	var committed, aborted float64
	var recs, dur *dto.Histogram
	phase := map[string]*dto.Histogram{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			switch f.GetName() {
			case telemetry.Transactions:
				for _, l := range m.GetLabel() {
					switch {
					case l.GetName() != "result":
					case l.GetValue() == "committed":
						committed += m.GetCounter().GetValue()
					default:
						aborted += m.GetCounter().GetValue()
					}
				}
			case telemetry.TransactionRecords:
				recs = m.GetHistogram()
			case telemetry.TransactionDuration:
				dur = m.GetHistogram()
			case telemetry.TransactionClose:
				for _, l := range m.GetLabel() {
					if l.GetName() == "phase" {
						phase[l.GetValue()] = m.GetHistogram()
					}
				}
			}
		}
	}
	if committed+aborted == 0 {
		return ""
	}
	mean := func(h *dto.Histogram, scale float64) float64 {
		if h == nil || h.GetSampleCount() == 0 {
			return 0
		}
		return h.GetSampleSum() / float64(h.GetSampleCount()) * scale
	}
	return fmt.Sprintf("%.0f transactions committed, %.0f aborted, %.0f records read each, %.1f ms each from begin to end, of which closed %.1f ms drain + %.1f ms commit",
		committed, aborted, mean(recs, 1), mean(dur, 1e3), mean(phase["drain"], 1e3), mean(phase["commit"], 1e3))
}

// saramaLog sends sarama's logs, debug included, with microsecond
// timestamps to the file CONVEYOR_BENCH_SARAMA_LOG names: the times of a
// transaction's requests (AddPartitionsToTxn, AddOffsetsToTxn,
// TxnOffsetCommit, EndTxn) and its retries, for finding where a
// transaction's close spends its time (not used for the reported numbers).
func saramaLog() func() {
	path := os.Getenv("CONVEYOR_BENCH_SARAMA_LOG")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		return func() {}
	}
	l := log.New(f, "", log.Lmicroseconds)
	sarama.Logger, sarama.DebugLogger = l, l
	return func() { f.Close() }
}
