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
import vessel.devices.DeviceMetrics;

/**
 * Firecracker-style metrics: counters kept here, written as one JSON object per line to the configured file
 * or FIFO on FlushMetrics and once a minute. As in Firecracker, a counter reports what happened since the
 * previous line, not a running total. Groups: {@code api_server}, {@code get_api_requests},
 * {@code put_api_requests}, {@code patch_api_requests}, {@code vcpu} (KVM exits by reason), and from the
 * devices' own counters {@code block_<drive_id>} and {@code net_<iface_id>} per device with {@code block}
 * and {@code net} summing them, {@code vsock} and {@code entropy}. Device groups carry only the Firecracker
 * counters Vessel's devices keep (rate limiter throttling, no latency fields); the aggregate groups are always
 * there, zero when no such device exists, as Firecracker's are.
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
    private static final List<String> BLOCK_COUNTERS = List.of("execute_fails", "invalid_reqs_count", "flush_count",
            "update_count", "update_fails", "read_bytes", "write_bytes", "read_count", "write_count", "rate_limiter_throttled_events");
    private static final List<String> NET_COUNTERS = List.of("rx_bytes_count", "rx_packets_count", "rx_fails",
            "tap_read_fails", "tap_write_fails", "tx_bytes_count", "tx_malformed_frames", "tx_packets_count",
            "rx_rate_limiter_throttled", "tx_rate_limiter_throttled");
    private static final List<String> VSOCK_COUNTERS = List.of("rx_bytes_count", "tx_bytes_count");
    private static final List<String> ENTROPY_COUNTERS = List.of("entropy_bytes", "host_rng_fails",
            "entropy_rate_limiter_throttled");
    private static final List<String> BALLOON_COUNTERS = List.of("inflate_count", "deflate_count",
            "stats_updates_count", "stats_update_fails", "free_page_report_count", "free_page_report_freed",
            "free_page_hint_count", "free_page_hint_freed");
    private static final List<String> MEMORY_HOTPLUG_COUNTERS = List.of("plug_count", "plug_bytes", "plug_fails",
            "unplug_count", "unplug_bytes", "unplug_fails", "unplug_discard_fails", "unplug_all_count",
            "unplug_all_fails", "state_count", "state_fails");

    /** "group/name" to its running total. */
    private final Map<String, AtomicLong> counters = new ConcurrentHashMap<>();
    /** The totals the previous line reported. */
    private final Map<String, Long> reported = new ConcurrentHashMap<>();
    /** The device totals the previous line reported, "group/name" to total. */
    private final Map<String, Long> reportedDevices = new java.util.HashMap<>();
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
    synchronized void flush(long[] exits, List<DeviceMetrics> devices, String id, Map<String, String> properties)
            throws IOException {
        if (sink == null) {
            return;
        }
        byte[] line = (Json.writeString(snapshot(exits, devices, id, properties)) + "\n").getBytes(StandardCharsets.UTF_8);
        ByteBuffer buf = ByteBuffer.wrap(line);
        while (buf.hasRemaining()) {
            sink.write(buf);
        }
    }

    /** The next line's content; advances what "since the previous line" means. */
    synchronized Map<String, Object> snapshot(long[] exits, List<DeviceMetrics> devices, String id,
                                              Map<String, String> properties) {
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
        Map<String, Long> block = zeros(BLOCK_COUNTERS);
        Map<String, Long> net = zeros(NET_COUNTERS);
        Map<String, Long> vsock = zeros(VSOCK_COUNTERS);
        Map<String, Long> entropy = zeros(ENTROPY_COUNTERS);
        Map<String, Long> balloon = null;
        Map<String, Long> memoryHotplug = null;
        Map<String, Long> pmem = new java.util.TreeMap<>();
        for (DeviceMetrics d : devices == null ? List.<DeviceMetrics>of() : devices) {
            switch (d) {
                case DeviceMetrics.Block b -> {
                    Map<String, Long> deltas = deltas("block_" + b.id(), blockTotals(b));
                    line.put("block_" + b.id(), deltas);
                    deltas.forEach((k, v) -> block.merge(k, v, Long::sum));
                }
                case DeviceMetrics.Net n -> {
                    Map<String, Long> deltas = deltas("net_" + n.id(), netTotals(n));
                    line.put("net_" + n.id(), deltas);
                    deltas.forEach((k, v) -> net.merge(k, v, Long::sum));
                }
                case DeviceMetrics.Vsock v -> deltas("vsock", Map.of("rx_bytes_count", v.rxBytes(),
                        "tx_bytes_count", v.txBytes())).forEach((k, x) -> vsock.merge(k, x, Long::sum));
                case DeviceMetrics.Entropy e -> deltas("entropy", Map.of("entropy_bytes", e.bytes(),
                        "host_rng_fails", e.hostFails(), "entropy_rate_limiter_throttled", e.rateLimiterThrottled()))
                        .forEach((k, x) -> entropy.merge(k, x, Long::sum));
                case DeviceMetrics.Balloon b -> balloon = new java.util.TreeMap<>(deltas("balloon", Map.of(
                        "inflate_count", b.inflateCount(), "deflate_count", b.deflateCount(),
                        "stats_updates_count", b.statsUpdates(), "stats_update_fails", b.statsUpdateFails(),
                        "free_page_report_count", b.freePageReportCount(),
                        "free_page_report_freed", b.freePageReportFreed(), "free_page_hint_count", b.freePageHintCount(),
                        "free_page_hint_freed", b.freePageHintFreed())));
                case DeviceMetrics.MemoryHotplug m -> memoryHotplug = new java.util.TreeMap<>(deltas("memory_hotplug",
                        memoryHotplugTotals(m)));
                case DeviceMetrics.Pmem p -> {
                    Map<String, Long> deltas = deltas("pmem_" + p.id(), Map.of("flush_count", p.flushes(),
                            "flush_fails", p.flushFails(), "invalid_requests", p.invalidRequests(),
                            "rate_limiter_throttled_events", p.rateLimiterThrottled()));
                    line.put("pmem_" + p.id(), new java.util.TreeMap<>(deltas));
                    deltas.forEach((k, v) -> pmem.merge(k, v, Long::sum));
                }
            }
        }
        if (!pmem.isEmpty()) {
            line.put("pmem", pmem);
        }
        line.put("block", block);
        line.put("net", net);
        line.put("vsock", vsock);
        line.put("entropy", entropy);
        line.put("balloon", balloon != null ? balloon : zeros(BALLOON_COUNTERS));
        line.put("memory_hotplug", memoryHotplug != null ? memoryHotplug : zeros(MEMORY_HOTPLUG_COUNTERS));
        return line;
    }

    private static Map<String, Long> zeros(List<String> names) {
        Map<String, Long> out = new java.util.TreeMap<>();
        names.forEach(n -> out.put(n, 0L));
        return out;
    }

    private static Map<String, Long> memoryHotplugTotals(DeviceMetrics.MemoryHotplug m) {
        Map<String, Long> t = new java.util.HashMap<>();
        t.put("plug_count", m.plugCount());
        t.put("plug_bytes", m.plugBytes());
        t.put("plug_fails", m.plugFails());
        t.put("unplug_count", m.unplugCount());
        t.put("unplug_bytes", m.unplugBytes());
        t.put("unplug_fails", m.unplugFails());
        t.put("unplug_discard_fails", m.unplugDiscardFails());
        t.put("unplug_all_count", m.unplugAllCount());
        t.put("unplug_all_fails", m.unplugAllFails());
        t.put("state_count", m.stateCount());
        t.put("state_fails", m.stateFails());
        return t;
    }

    private static Map<String, Long> blockTotals(DeviceMetrics.Block b) {
        return Map.of("execute_fails", b.executeFails(), "invalid_reqs_count", b.invalidRequests(),
                "flush_count", b.flushCount(), "update_count", b.updateCount(), "update_fails", b.updateFails(),
                "read_bytes", b.readBytes(), "write_bytes", b.writeBytes(), "read_count", b.readCount(),
                "write_count", b.writeCount(), "rate_limiter_throttled_events", b.rateLimiterThrottled());
    }

    private static Map<String, Long> netTotals(DeviceMetrics.Net n) {
        return Map.of("rx_bytes_count", n.rxBytes(), "rx_packets_count", n.rxPackets(), "rx_fails", n.rxFails(),
                "tap_read_fails", n.tapReadFails(), "tap_write_fails", n.tapWriteFails(),
                "tx_bytes_count", n.txBytes(), "tx_malformed_frames", n.txMalformedFrames(),
                "tx_packets_count", n.txPackets(), "rx_rate_limiter_throttled", n.rxRateLimiterThrottled(),
                "tx_rate_limiter_throttled", n.txRateLimiterThrottled());
    }

    /** Each total's change since the previous line, by name; remembers the totals for the next. */
    private Map<String, Long> deltas(String group, Map<String, Long> totals) {
        Map<String, Long> out = new java.util.TreeMap<>();
        totals.forEach((name, now) -> {
            Long before = reportedDevices.put(group + "/" + name, now);
            out.put(name, now - (before == null ? 0 : before));
        });
        return out;
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
