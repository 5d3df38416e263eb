package vessel.api;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import vessel.kvm.ExitReason;

/**
 * Firecracker-style metrics: counters kept here, written as one JSON object per line to the configured file
 * or FIFO on FlushMetrics and once a minute. As in Firecracker, a counter reports what happened since the
 * previous line, not a running total. Groups: {@code api_server}, {@code get_api_requests},
 * {@code put_api_requests}, {@code patch_api_requests}, {@code vcpu} (KVM exits by reason) and, until the
 * virtio devices report their own, {@code block} and {@code net} with zero counters.
 */
final class VmmMetrics implements AutoCloseable {
    private static final List<String> GET = List.of("instance_info_count", "machine_cfg_count", "vm_config_count",
            "vmm_version_count");
    private static final List<String> PUT = List.of("actions_count", "actions_fails", "boot_source_count",
            "boot_source_fails", "drive_count", "drive_fails", "entropy_count", "entropy_fails", "logger_count",
            "logger_fails", "machine_cfg_count", "machine_cfg_fails", "metrics_count", "metrics_fails", "network_count",
            "network_fails", "vsock_count", "vsock_fails");
    private static final List<String> PATCH = List.of("drive_count", "drive_fails", "machine_cfg_count",
            "machine_cfg_fails", "network_count", "network_fails", "vm_count", "vm_fails");
    private static final List<String> DEVICE_COUNTERS = List.of("read_bytes", "write_bytes", "read_count",
            "write_count", "flush_count");
    private static final List<String> NET_COUNTERS = List.of("rx_bytes_count", "tx_bytes_count", "rx_packets_count",
            "tx_packets_count");

    /** "group/name" to its running total. */
    private final Map<String, AtomicLong> counters = new ConcurrentHashMap<>();
    /** The totals the previous line reported. */
    private final Map<String, Long> reported = new ConcurrentHashMap<>();
    private long[] reportedExits = new long[ExitReason.COUNT + 1];
    private volatile long startupMicros = -1;
    private FileChannel sink;
    private Path sinkPath;

    VmmMetrics() {
        GET.forEach(n -> counter("get_api_requests", n));
        PUT.forEach(n -> counter("put_api_requests", n));
        PATCH.forEach(n -> counter("patch_api_requests", n));
        counter("api_server", "sync_response_fails");
    }

    private AtomicLong counter(String group, String name) {
        return counters.computeIfAbsent(group + "/" + name, k -> new AtomicLong());
    }

    void increment(String group, String name) {
        counter(group, name).incrementAndGet();
    }

    /** Process start to the API socket answering, as Firecracker's {@code process_startup_time_us}. */
    void startupTime(long micros) {
        startupMicros = micros;
    }

    boolean configured() {
        return sink != null;
    }

    /** Opens the metrics destination: a regular file (created if missing, appended to) or a FIFO. */
    synchronized void open(Path path) throws IOException {
        if (sink != null) {
            throw new IOException("Reinitialization of metrics not allowed.");
        }
        // A FIFO opened for writing alone blocks until a reader comes; opened read-write it does not.
        sink = Files.exists(path) && !Files.isRegularFile(path)
                ? FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE)
                : FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
        sinkPath = path;
    }

    /**
     * Writes one line; {@code exits} is the VM's exit counts so far (null before boot), {@code id} and
     * {@code properties} go on the line when the metrics config asks for them.
     */
    synchronized void flush(long[] exits, String id, Map<String, String> properties) throws IOException {
        if (sink == null) {
            return;
        }
        byte[] line = (Json.writeString(snapshot(exits, id, properties)) + "\n").getBytes(StandardCharsets.UTF_8);
        ByteBuffer buf = ByteBuffer.wrap(line);
        while (buf.hasRemaining()) {
            sink.write(buf);
        }
    }

    /** The next line's content; advances what "since the previous line" means. */
    synchronized Map<String, Object> snapshot(long[] exits, String id, Map<String, String> properties) {
        Map<String, Object> line = new LinkedHashMap<>();
        if (id != null) {
            line.put("id", id);
        }
        if (properties != null && !properties.isEmpty()) {
            line.put("properties", properties);
        }
        line.put("utc_timestamp_ms", System.currentTimeMillis());
        Map<String, Object> api = group("api_server");
        if (startupMicros >= 0) {
            api.put("process_startup_time_us", startupMicros);
        }
        line.put("api_server", api);
        line.put("get_api_requests", group("get_api_requests"));
        line.put("put_api_requests", group("put_api_requests"));
        line.put("patch_api_requests", group("patch_api_requests"));
        line.put("vcpu", exits(exits));
        Map<String, Object> block = new LinkedHashMap<>();
        DEVICE_COUNTERS.forEach(n -> block.put(n, 0L));
        line.put("block", block);
        Map<String, Object> net = new LinkedHashMap<>();
        NET_COUNTERS.forEach(n -> net.put(n, 0L));
        line.put("net", net);
        return line;
    }

    private Map<String, Object> group(String group) {
        Map<String, Object> out = new java.util.TreeMap<>();
        counters.forEach((key, value) -> {
            if (key.startsWith(group + "/")) {
                long now = value.get();
                long before = reported.getOrDefault(key, 0L);
                reported.put(key, now);
                out.put(key.substring(group.length() + 1), now - before);
            }
        });
        return out;
    }

    private Map<String, Object> exits(long[] exits) {
        Map<String, Object> out = new LinkedHashMap<>();
        long[] now = exits == null ? new long[ExitReason.COUNT + 1] : exits;
        long other = 0;
        for (int i = 0; i < now.length && i < reportedExits.length; i++) {
            long delta = now[i] - reportedExits[i];
            String name = i == ExitReason.COUNT ? "KICKED" : ExitReason.name(i);
            if (name.startsWith("exit ")) {
                other += delta;
            } else if (i == ExitReason.COUNT) {
                out.put("kicked", delta);
            } else {
                out.put("exit_" + name.toLowerCase(Locale.ROOT), delta);
            }
        }
        out.put("exit_other", other);
        reportedExits = now.clone();
        return out;
    }

    Path path() {
        return sinkPath;
    }

    @Override
    public synchronized void close() {
        if (sink != null) {
            try {
                sink.close();
            } catch (IOException ignored) {
                // the reader went away; nothing more to report to
            }
        }
    }
}
