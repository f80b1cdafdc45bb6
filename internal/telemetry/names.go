package telemetry

// The metric names: a documented contract (README "Operate"), pinned by
// TestMetricContract. Every one carries the labels pipeline and stage.
const (
	// Per-stage record counters.
	RecordsIn       = "conveyor_records_in_total"       // records that reached the stage (a source: records it read)
	RecordsOut      = "conveyor_records_out_total"      // records the stage passed on (a sink: records made durable)
	RecordsFiltered = "conveyor_records_filtered_total" // records an operator dropped
	RecordsFailed   = "conveyor_records_failed_total"   // records the stage gave up on (skipped, dead-lettered, or that stopped the run)
	DeadLetters     = "conveyor_dead_letters_total"     // records of the stage written to the dead-letter queue
	TypeMismatch    = "conveyor_type_mismatch_total"    // comparisons a filter could not make (a string against a number, ...)
	InvalidRecords  = "conveyor_invalid_records_total"  // records a source read whose value was not valid JSON (a source's only)
	LateRecords     = "conveyor_late_records_total"     // records a stateful operator got after their window closed (operators only)

	// Per-source batch histograms.
	BatchRecords = "conveyor_batch_records"         // records per batch a source emitted
	BatchLatency = "conveyor_batch_latency_seconds" // from the handler taking a batch to its sinks making it durable

	// Kafka source: per partition (labels topic, partition besides pipeline, stage).
	KafkaConsumerLag        = "conveyor_kafka_consumer_lag"                  // end offset minus committed offset
	KafkaConsumerLagSeconds = "conveyor_kafka_consumer_lag_seconds"          // age of the oldest record read and not committed
	KafkaLastCommit         = "conveyor_kafka_last_commit_timestamp_seconds" // Unix time of the partition's last confirmed commit
	KafkaCommitLatency      = "conveyor_kafka_commit_latency_seconds"        // one OffsetCommit round trip
	KafkaRebalances         = "conveyor_kafka_rebalances_total"              // group sessions started (assignments received)
	KafkaProducerRetries    = "conveyor_kafka_producer_retries_total"        // Kafka sink: times the producer backed off to resend

	// Exactly-once (guarantee = "exactly-once"): the run's transactions,
	// under the kafka stage built first.
	Transactions        = "conveyor_transactions_total"           // transactions ended, label result = committed | aborted
	TransactionDuration = "conveyor_transaction_duration_seconds" // from a transaction's begin to its commit or abort
	TransactionRecords  = "conveyor_transaction_records"          // records read per transaction
	TransactionClose    = "conveyor_transaction_close_seconds"    // closing a transaction, label phase = drain (the batches inside finish) | commit (offsets and EndTxn)
)

// Label names.
const (
	LabelPipeline  = "pipeline"
	LabelStage     = "stage"
	LabelTopic     = "topic"
	LabelPartition = "partition"
)
