package conveyor.bench;

import java.nio.ByteBuffer;
import java.time.Duration;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.processor.TimestampExtractor;
import org.apache.kafka.streams.state.WindowStore;

/**
 * Issue 17's windowed job: orders per country per one-minute tumbling window of event time
 * (the JSON field event_ms, epoch milliseconds), count and sum(amount), emitted once when the
 * window closes (suppress untilWindowCloses), as JSON
 * {"country":"DE","window_start":...,"window_end":...,"count":N,"sum":S} keyed by country.
 *
 * <p>Each value is parsed once (JsonSerde), as a Kafka Streams application reading JSON would,
 * and once more after the repartition topic. groupBy country is written as selectKey + repartition (what groupBy does), so that the
 * records read back from the repartition topic can be counted: the run ends when all of them
 * were, late or not. With byKey the input is already keyed and partitioned by country, and the
 * records are grouped by their key (groupByKey: no repartition topic), counted as read.
 */
final class Windowed {
    static final Duration SIZE = Duration.ofMinutes(1);
    private static final ObjectMapper JSON = new ObjectMapper();

    static Topology topology(StreamsBuilder b, String in, String out, long graceMs, boolean byKey, Runnable counted, Runnable written) {
        KStream<String, JsonNode> s = b.stream(in, Consumed.with(Serdes.String(), new JsonSerde()).withTimestampExtractor(new EventTime()));
        if (!byKey) {
            s = s.selectKey((k, v) -> v.path("country").asText())
                    .repartition(Repartitioned.<String, JsonNode>as("by-country").withKeySerde(Serdes.String()).withValueSerde(new JsonSerde()));
        }
        s.peek((k, v) -> counted.run())
                .groupByKey()
                .windowedBy(TimeWindows.ofSizeAndGrace(SIZE, Duration.ofMillis(graceMs)))
                .aggregate(Agg::new, (country, v, agg) -> agg.add(v.path("amount").asDouble()),
                        Materialized.<String, Agg, WindowStore<Bytes, byte[]>>as("orders-per-minute")
                                .withKeySerde(Serdes.String()).withValueSerde(new AggSerde()))
                .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()))
                .toStream()
                .map((w, agg) -> {
                    written.run();
                    return KeyValue.pair(w.key(), "{\"country\":\"" + w.key() + "\",\"window_start\":" + w.window().start()
                            + ",\"window_end\":" + w.window().end() + ",\"count\":" + agg.count + ",\"sum\":" + agg.sum + "}");
                })
                .to(out, Produced.with(Serdes.String(), Serdes.String()));
        return b.build();
    }

    /**
     * EventTime takes a record's timestamp from its event_ms field (the value is parsed once, by
     * JsonSerde, before the extractor sees it).
     */
    static final class EventTime implements TimestampExtractor {
        @Override
        public long extract(ConsumerRecord<Object, Object> r, long partitionTime) {
            return r.value() instanceof JsonNode n ? n.path("event_ms").asLong(-1) : -1;
        }
    }

    /** JsonSerde reads a record's JSON value once into a tree, and writes a tree back as JSON. */
    static final class JsonSerde implements Serde<JsonNode> {
        @Override
        public Serializer<JsonNode> serializer() {
            return (topic, n) -> {
                try {
                    return n == null ? null : JSON.writeValueAsBytes(n);
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            };
        }

        @Override
        public Deserializer<JsonNode> deserializer() {
            return (topic, b) -> {
                try {
                    return b == null ? null : JSON.readTree(b);
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            };
        }
    }

    /** Agg is a window's count and sum of amount. */
    static final class Agg {
        long count;
        double sum;

        Agg add(double amount) {
            count++;
            sum += amount;
            return this;
        }
    }

    static final class AggSerde implements Serde<Agg> {
        @Override
        public Serializer<Agg> serializer() {
            return (topic, a) -> ByteBuffer.allocate(16).putLong(a.count).putDouble(a.sum).array();
        }

        @Override
        public Deserializer<Agg> deserializer() {
            return (topic, b) -> {
                if (b == null) {
                    return null;
                }
                ByteBuffer buf = ByteBuffer.wrap(b);
                Agg a = new Agg();
                a.count = buf.getLong();
                a.sum = buf.getDouble();
                return a;
            };
        }
    }
}
