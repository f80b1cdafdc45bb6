// Package benchmarks holds Conveyor's benchmarks: the harness that runs the
// spec's examples against Kafka next to hand-written sarama baselines
// (cmd/bench, baseline) and go test micro-benchmarks of the per-record
// operator chain (chain_bench_test.go). See README.md and RESULTS.md.
package benchmarks
