package conveyor.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;

/**
 * Example 3 (examples/kafka-etl-example.toml) as Kafka Streams: read JSON orders, add the
 * record's Kafka metadata as Conveyor's kafka source does (_kafka_key, _kafka_partition,
 * _kafka_offset, _kafka_timestamp), keep those with amount >= 100 (filter.apply), write them
 * keyed by user_id (the sink's key_field; Streams' default partitioner is murmur2 of the key, as
 * Conveyor's). JSON goes through Jackson's tree model, the usual way on the JVM.
 */
final class Etl {
    static Topology topology(StreamsBuilder b, String in, String out, Runnable counted, Runnable written) {
        b.stream(in, Consumed.with(Serdes.String(), Serdes.String()))
                .process(() -> new EnrichFilter(counted, written))
                .to(out, Produced.with(Serdes.String(), Serdes.String()));
        return b.build();
    }

    /** EnrichFilter is the source's enrichment, filter.apply amount >= 100 and the sink's key. */
    static final class EnrichFilter implements Processor<String, String, String, String> {
        private static final ObjectMapper JSON = new ObjectMapper();
        private final Runnable counted, written;
        private ProcessorContext<String, String> ctx;

        EnrichFilter(Runnable counted, Runnable written) {
            this.counted = counted;
            this.written = written;
        }

        @Override
        public void init(ProcessorContext<String, String> ctx) {
            this.ctx = ctx;
        }

        @Override
        public void process(Record<String, String> r) {
            try {
                ObjectNode o = (ObjectNode) JSON.readTree(r.value());
                if (o.path("amount").asDouble(Double.NaN) >= 100) {
                    RecordMetadata m = ctx.recordMetadata().orElseThrow();
                    o.put("_kafka_key", r.key());
                    o.put("_kafka_partition", m.partition());
                    o.put("_kafka_offset", m.offset());
                    o.put("_kafka_timestamp", r.timestamp());
                    ctx.forward(r.withKey(o.path("user_id").asText()).withValue(JSON.writeValueAsString(o)));
                    written.run();
                }
            } catch (Exception e) {
                throw new RuntimeException("record " + r.key() + ": " + e, e);
            } finally {
                counted.run();
            }
        }
    }
}
