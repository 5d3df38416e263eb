package vessel.api;

import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import vessel.devices.DeviceMetrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/** Device groups in the metrics lines: per device and summed, each counter the change since the previous line. */
class VmmMetricsTest {
    private static DeviceMetrics.Block block(String id, long reads, long readBytes, long writes, long writeBytes,
                                             long flushes, long invalid) {
        return new DeviceMetrics.Block(id, reads, writes, flushes, readBytes, writeBytes, invalid, 0, 0, 0);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> group(Map<String, Object> line, String name) {
        return (Map<String, Object>) line.get(name);
    }

    @Test
    void blockNetVsockAndEntropyReportDeltasSinceTheLastLine() {
        VmmMetrics m = new VmmMetrics();
        Map<String, Object> first = m.snapshot(null, List.of(
                block("rootfs", 10, 40960, 2, 1024, 1, 0),
                block("data", 1, 512, 0, 0, 0, 3),
                new DeviceMetrics.Net("eth0", 1000, 5, 0, 0, 700, 4, 1, 0),
                new DeviceMetrics.Vsock("vsock", 30, 20),
                new DeviceMetrics.Entropy("entropy", 64, 0)), null, null);
        assertEquals(10L, group(first, "block_rootfs").get("read_count"));
        assertEquals(40960L, group(first, "block_rootfs").get("read_bytes"));
        assertEquals(3L, group(first, "block_data").get("invalid_reqs_count"));
        assertEquals(11L, group(first, "block").get("read_count"));
        assertEquals(41472L, group(first, "block").get("read_bytes"));
        assertEquals(1024L, group(first, "block").get("write_bytes"));
        assertEquals(1000L, group(first, "net_eth0").get("rx_bytes_count"));
        assertEquals(4L, group(first, "net").get("tx_packets_count"));
        assertEquals(1L, group(first, "net").get("tx_malformed_frames"));
        assertEquals(30L, group(first, "vsock").get("rx_bytes_count"));
        assertEquals(64L, group(first, "entropy").get("entropy_bytes"));

        Map<String, Object> second = m.snapshot(null, List.of(
                block("rootfs", 13, 40960 + 4096, 2, 1024, 2, 0),
                block("data", 1, 512, 1, 4096, 0, 3),
                new DeviceMetrics.Net("eth0", 1500, 6, 0, 0, 700, 4, 1, 0),
                new DeviceMetrics.Vsock("vsock", 30, 25),
                new DeviceMetrics.Entropy("entropy", 96, 0)), null, null);
        assertEquals(3L, group(second, "block_rootfs").get("read_count"));
        assertEquals(4096L, group(second, "block_rootfs").get("read_bytes"));
        assertEquals(1L, group(second, "block_rootfs").get("flush_count"));
        assertEquals(0L, group(second, "block_data").get("invalid_reqs_count"));
        assertEquals(1L, group(second, "block_data").get("write_count"));
        assertEquals(3L, group(second, "block").get("read_count"));
        assertEquals(1L, group(second, "block").get("write_count"));
        assertEquals(4096L, group(second, "block").get("write_bytes"));
        assertEquals(500L, group(second, "net_eth0").get("rx_bytes_count"));
        assertEquals(1L, group(second, "net").get("rx_packets_count"));
        assertEquals(0L, group(second, "net").get("tx_bytes_count"));
        assertEquals(5L, group(second, "vsock").get("tx_bytes_count"));
        assertEquals(32L, group(second, "entropy").get("entropy_bytes"));
    }

    @Test
    void withoutDevicesTheAggregateGroupsAreZeroAndNoPerDeviceGroupAppears() {
        Map<String, Object> line = new VmmMetrics().snapshot(null, List.of(), null, null);
        assertEquals(0L, group(line, "block").get("read_count"));
        assertEquals(0L, group(line, "net").get("rx_bytes_count"));
        assertEquals(0L, group(line, "vsock").get("tx_bytes_count"));
        assertFalse(line.keySet().stream().anyMatch(k -> k.startsWith("block_") || k.startsWith("net_")));
    }
}
