package conveyor.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;

import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;

/**
 * The Kafka Streams side of Conveyor's benchmark harness (benchmarks/cmd/bench): one of two
 * topologies over the harness's generated JSON orders, run until a given number of input
 * records has gone through it, then closed (which commits).
 *
 * <pre>
 * java -cp target/kstreams-bench.jar:target/lib/* conveyor.bench.Main \
 *   --mode etl|window --brokers 127.0.0.1:9092 --in TOPIC --out TOPIC --app-id ID \
 *   --guarantee at_least_once|exactly_once_v2 --records N [--grace-ms 10000] [--group-by-key true]
 *   [--threads 2] [--commit-ms 100] [--state-dir DIR]
 * </pre>
 *
 * It prints the harness's child protocol on stdout, one JSON object a line: {"event":"start"}
 * just before the topology starts, {"event":"end"} once it is closed, each with the process's CPU
 * time (all JVM threads) and the end with its peak RSS (VmHWM), so that the harness measures it
 * as it measures Conveyor's children.
 */
public final class Main {
    public static void main(String[] argv) throws Exception {
        Map<String, String> a = args(argv);
        String mode = need(a, "mode");
        long records = Long.parseLong(need(a, "records"));
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, need(a, "app-id"));
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, need(a, "brokers"));
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, a.getOrDefault("guarantee", "at_least_once"));
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, a.getOrDefault("threads", String.valueOf(Runtime.getRuntime().availableProcessors())));
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, a.getOrDefault("commit-ms", "100"));
        p.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        p.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        p.put(StreamsConfig.STATE_DIR_CONFIG, a.getOrDefault("state-dir", Files.createTempDirectory("kstreams-bench").toString()));

        java.util.concurrent.atomic.AtomicLong in = new java.util.concurrent.atomic.AtomicLong();
        LongAdder out = new LongAdder();
        CountDownLatch all = new CountDownLatch(1);
        Runnable counted = () -> {
            if (in.incrementAndGet() == records) {
                all.countDown();
            }
        };
        Topology t = switch (mode) {
            case "etl" -> Etl.topology(new StreamsBuilder(), need(a, "in"), need(a, "out"), counted, out::increment);
            case "window" -> Windowed.topology(new StreamsBuilder(), need(a, "in"), need(a, "out"),
                    Long.parseLong(a.getOrDefault("grace-ms", "10000")),
                    Boolean.parseBoolean(a.getOrDefault("group-by-key", "false")), counted, out::increment);
            default -> throw new IllegalArgumentException("--mode: etl or window, not " + mode);
        };
        KafkaStreams streams = new KafkaStreams(t, p);
        AtomicBoolean failed = new AtomicBoolean();
        streams.setUncaughtExceptionHandler(e -> {
            System.err.println("stream thread failed: " + e);
            e.printStackTrace();
            failed.set(true);
            all.countDown();
            return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        Thread hook = new Thread(all::countDown);
        Runtime.getRuntime().addShutdownHook(hook); // SIGTERM: close as at the end
        emit("start", 0, 0, null);
        streams.start();
        all.await();
        streams.close(); // commits: at-least-once flushes and commits offsets, exactly-once commits the transaction
        emit("end", in.get(), out.sum(), failed.get() ? "a stream thread failed (see the log)" : null);
        System.out.flush();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // SIGTERM: the JVM is exiting anyway
        }
        System.exit(failed.get() ? 1 : 0);
    }

    /** emit prints one event of the harness's child protocol (benchmarks/cmd/bench/child.go). */
    static synchronized void emit(String event, long in, long out, String err) {
        long cpu = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
        StringBuilder b = new StringBuilder("{\"event\":\"").append(event).append('"')
                .append(",\"unix_ns\":").append(System.currentTimeMillis() * 1_000_000L)
                .append(",\"cpu_ns\":").append(cpu);
        if (event.equals("end")) {
            b.append(",\"in\":").append(in).append(",\"out\":").append(out).append(",\"hwm\":").append(hwm());
        }
        if (err != null) {
            b.append(",\"err\":\"").append(err).append('"');
        }
        System.out.println(b.append('}'));
        System.out.flush();
    }

    /** hwm is the process's peak RSS in bytes (VmHWM), 0 if unknown. */
    static long hwm() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            // reported as 0
        }
        return 0;
    }

    static Map<String, String> args(String[] argv) {
        Map<String, String> m = new HashMap<>();
        for (int i = 0; i + 1 < argv.length; i += 2) {
            if (!argv[i].startsWith("--")) {
                throw new IllegalArgumentException("expected --name value, got " + argv[i]);
            }
            m.put(argv[i].substring(2), argv[i + 1]);
        }
        return m;
    }

    static String need(Map<String, String> a, String k) {
        String v = a.get(k);
        if (v == null) {
            throw new IllegalArgumentException("missing --" + k);
        }
        return v;
    }
}
