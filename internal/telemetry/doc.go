// Package telemetry owns a run's Prometheus metrics, its readiness and the
// HTTP server that shows both (/metrics, /healthz, /readyz).
//
// Metric names, types and label sets are a contract (see names.go and the
// README's "Operate" section): dashboards and alerts are written against
// them, so they change only with a major version. Every metric carries the
// labels pipeline and stage, which a stage's [plugin.Env].Metrics adds as
// constant labels; Kafka partition metrics add topic and partition.
//
// A Run is made per pipeline run. The runtime counts records per stage
// through [Stage] (plain atomic additions, read by the metrics at scrape
// time and by the end-of-run summary), and hands each stage a registerer
// for what it measures itself (the kafka connector's lag and commit
// metrics, the filter's type mismatches).
package telemetry
