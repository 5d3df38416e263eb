package vessel.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import vessel.json.JsonValue;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import vessel.devices.DeviceMetrics;
import vessel.devices.RateLimiter;
import vessel.devices.TokenBucket;
import vessel.devices.virtio.VirtioBalloon;
import vessel.vmm.VirtualMachine;
import vessel.vmm.VmConfig;
import vessel.vmm.control.RunningVm;

/**
 * Every method and path of Firecracker's API description, each with one valid and one invalid request,
 * through the {@link Router} of a {@link Vmm} whose boot is a fake (no KVM): requests that need a
 * running microVM are sent after InstanceStart, and the others before it. The table is checked against
 * the description itself (../shared/firecracker-api/firecracker.yaml; skipped where that file is absent),
 * so a path added there and missing here fails the build.
 */
class FirecrackerApiConformanceTest {
    static final Path DESCRIPTION = Path.of("../shared/firecracker-api/firecracker.yaml");

    /** Before InstanceStart, after it, or after it and paused. */
    enum Phase { PRE, POST, PAUSED }

    /** One request: its phase, method, path (a concrete one for templated paths) and body (null: none). */
    record Request(Phase phase, String method, String path, String body) {
    }

    /**
     * A row: the description's method and path; a valid request and its status; an invalid request and a
     * fragment of the fault_message it must give. {@code pending} names the work that owns a row not yet
     * served (the row is reported skipped, not passed).
     */
    record Row(String method, String describedPath, Request valid, int validStatus, Request invalid,
               String invalidFragment, String pending) {
        @Override
        public String toString() {
            return method + " " + describedPath;
        }
    }

    private static Row row(String method, String path, Phase phase, String concretePath, String valid, int status,
                           Phase invalidPhase, String invalid, String fragment) {
        return new Row(method, path, new Request(phase, method, concretePath, valid), status,
                new Request(invalidPhase, method, concretePath, invalid), fragment, null);
    }

    private static Row pending(String method, String path, String owner) {
        return new Row(method, path, null, 0, null, null, owner);
    }

    private static final String BITS32 = "0b" + "x".repeat(31) + "1";
    private static final String BITS64 = "0b" + "x".repeat(63) + "0";

    static List<Row> table() {
        Phase pre = Phase.PRE;
        Phase post = Phase.POST;
        return List.of(
            row("GET", "/", pre, "/", null, 200, pre, "{}", "GET request cannot have a body"),
            row("PUT", "/actions", pre, "/actions", "{\"action_type\": \"InstanceStart\"}", 204,
                    pre, "{\"action_type\": \"Reboot\"}", "unknown variant `Reboot`"),
            row("GET", "/balloon", pre, "/balloon", null, 200, pre, "{}", "GET request cannot have a body"),
            row("PUT", "/balloon", pre, "/balloon",
                    "{\"amount_mib\": 16, \"deflate_on_oom\": true, \"stats_polling_interval_s\": 1, "
                            + "\"free_page_hinting\": true, \"free_page_reporting\": true}", 204,
                    pre, "{\"amount_mib\": -1, \"deflate_on_oom\": true}", "expected u32"),
            row("PATCH", "/balloon", post, "/balloon", "{\"amount_mib\": 8}", 204,
                    post, "{\"amount_mib\": 8, \"deflate_on_oom\": false}", "unknown field `deflate_on_oom`"),
            row("GET", "/balloon/statistics", post, "/balloon/statistics", null, 200,
                    pre, null, "not supported before starting the microVM"),
            row("PATCH", "/balloon/statistics", post, "/balloon/statistics", "{\"stats_polling_interval_s\": 5}", 204,
                    post, "{\"stats_polling_interval_s\": 0}", "Cannot enable/disable the statistics after boot"),
            row("PATCH", "/balloon/hinting/start", post, "/balloon/hinting/start", "{\"acknowledge_on_stop\": false}",
                    204, post, "{\"acknowledge_on_stop\": \"no\"}", "acknowledge_on_stop"),
            row("GET", "/balloon/hinting/status", post, "/balloon/hinting/status", null, 200,
                    post, "{}", "GET request cannot have a body"),
            row("PATCH", "/balloon/hinting/stop", post, "/balloon/hinting/stop", null, 204,
                    pre, null, "not supported before starting the microVM"),
            row("PUT", "/boot-source", pre, "/boot-source", "{\"kernel_image_path\": \"@KERNEL@\"}", 204,
                    pre, "{\"kernel_image_path\": \"@DIR@/missing\"}", "Boot source error"),
            row("PUT", "/cpu-config", pre, "/cpu-config",
                    "{\"kvm_capabilities\": [\"!121\"], \"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": \"0x0\", "
                            + "\"flags\": 0, \"modifiers\": [{\"register\": \"ecx\", \"bitmap\": \"" + BITS32 + "\"}]}], "
                            + "\"msr_modifiers\": [{\"addr\": \"0x10a\", \"bitmap\": \"" + BITS64 + "\"}]}", 204,
                    pre, "{\"reg_modifiers\": []}", "unknown field `reg_modifiers`"),
            row("PUT", "/drives/{drive_id}", pre, "/drives/data",
                    "{\"drive_id\": \"data\", \"path_on_host\": \"@DISK@\", \"is_root_device\": false}", 204,
                    pre, "{\"drive_id\": \"data\", \"path_on_host\": \"@DISK@\"}", "missing field `is_root_device`"),
            row("PATCH", "/drives/{drive_id}", post, "/drives/rootfs",
                    "{\"drive_id\": \"rootfs\", \"rate_limiter\": {\"ops\": {\"size\": 100, \"refill_time\": 1000}}}", 204,
                    post, "{\"drive_id\": \"other\"}", "does not match"),
            row("PUT", "/pmem/{id}", pre, "/pmem/pm1",
                    "{\"id\": \"pm1\", \"path_on_host\": \"@DISK@\", \"root_device\": false, \"read_only\": true}", 204,
                    pre, "{\"id\": \"pm1\", \"path_on_host\": \"@DISK@\", \"root_device\": true}",
                    "Attempt to add pmem as a root device while the root device defined as a block device"),
            row("PATCH", "/pmem/{id}", post, "/pmem/pm0",
                    "{\"id\": \"pm0\", \"rate_limiter\": {\"ops\": {\"size\": 10, \"refill_time\": 100}}}", 204,
                    post, "{\"id\": \"pm0\", \"path_on_host\": \"@DISK@\"}", "unknown field `path_on_host`"),
            row("PUT", "/logger", pre, "/logger", "{\"level\": \"Info\"}", 204,
                    pre, "{\"level\": \"Loud\"}", "unknown variant `Loud`"),
            row("GET", "/machine-config", pre, "/machine-config", null, 200, pre, "{}", "GET request cannot have a body"),
            row("PUT", "/machine-config", pre, "/machine-config",
                    "{\"vcpu_count\": 2, \"mem_size_mib\": 256, \"smt\": true}", 204,
                    pre, "{\"vcpu_count\": 3, \"mem_size_mib\": 256, \"smt\": true}", "1 or an even number"),
            row("PATCH", "/machine-config", pre, "/machine-config", "{\"vcpu_count\": 2}", 204,
                    pre, "{}", "Empty PATCH request"),
            // Firecracker's MetricsConfig ignores unknown fields: the valid body carries one.
            row("PUT", "/metrics", pre, "/metrics", "{\"metrics_path\": \"@DIR@/metrics\", \"colour\": \"blue\"}", 204,
                    pre, "{\"emit_id\": true}", "missing field `metrics_path`"),
            row("PUT", "/mmds", pre, "/mmds", "{\"latest\": {\"meta-data\": {\"ami-id\": \"ami-1\"}}}", 204,
                    pre, "{\"a\": 1} x", "deserializing"),
            row("PATCH", "/mmds", post, "/mmds", "{\"latest\": {\"meta-data\": {\"zone\": \"a\"}}}", 204,
                    post, "[", "deserializing"),
            row("GET", "/mmds", post, "/mmds", null, 200, pre, "{}", "GET request cannot have a body"),
            row("PUT", "/mmds/config", pre, "/mmds/config", "{\"version\": \"V2\", \"network_interfaces\": [\"eth0\"]}",
                    204, pre, "{\"version\": \"V3\", \"network_interfaces\": [\"eth0\"]}", "unknown variant `V3`"),
            row("PUT", "/entropy", pre, "/entropy", "{}", 204,
                    pre, "{\"rate_limiter\": {\"bandwidth\": {\"size\": -1, \"refill_time\": 100}}}", "expected u64"),
            row("PUT", "/serial", pre, "/serial", "{\"serial_out_path\": \"@DIR@/serial.log\"}", 204,
                    pre, "{\"serial_out_path\": \"@DIR@/serial.log\", \"baud\": 9600}", "unknown field `baud`"),
            row("PUT", "/hotplug/memory", pre, "/hotplug/memory",
                    "{\"total_size_mib\": 1024, \"block_size_mib\": 2, \"slot_size_mib\": 128}", 204,
                    pre, "{\"total_size_mib\": 1000}", "Total size must be a multiple of slot size (128 MiB)"),
            row("PATCH", "/hotplug/memory", post, "/hotplug/memory", "{\"requested_size_mib\": 64}", 204,
                    post, "{\"requested_size_mib\": 3}", "must be a multiple of the block size"),
            row("GET", "/hotplug/memory", post, "/hotplug/memory", null, 200, post, "{}", "GET request cannot have a body"),
            row("PUT", "/network-interfaces/{iface_id}", pre, "/network-interfaces/eth1",
                    "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap9\", \"guest_mac\": \"06:00:00:00:00:01\"}", 204,
                    pre, "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap9\", \"guest_mac\": \"06:00\"}", "guest_mac"),
            row("PATCH", "/network-interfaces/{iface_id}", post, "/network-interfaces/eth0",
                    "{\"iface_id\": \"eth0\", \"tx_rate_limiter\": {\"bandwidth\": {\"size\": 1000000, \"refill_time\": 100}}}",
                    204, post, "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap1\"}", "unknown field `host_dev_name`"),
            row("PUT", "/snapshot/create", Phase.PAUSED, "/snapshot/create",
                    "{\"snapshot_type\": \"Full\", \"snapshot_path\": \"@DIR@/vm.state\", \"mem_file_path\": \"@DIR@/vm.mem\"}",
                    204, post, "{\"snapshot_path\": \"@DIR@/vm.state\", \"mem_file_path\": \"@DIR@/vm.mem\"}",
                    "must be paused first"),
            // A load makes a real VirtualMachine (the fake launcher cannot): SnapshotApiKvmTest loads one under KVM.
            pending("PUT", "/snapshot/load", "a real VM (SnapshotApiKvmTest)"),
            row("GET", "/version", pre, "/version", null, 200, pre, "{}", "GET request cannot have a body"),
            row("PATCH", "/vm", post, "/vm", "{\"state\": \"Paused\"}", 204,
                    post, "{\"state\": \"Stopped\"}", "unknown variant `Stopped`"),
            row("GET", "/vm/config", pre, "/vm/config", null, 200, pre, "{}", "GET request cannot have a body"),
            row("PUT", "/vsock", pre, "/vsock", "{\"guest_cid\": 3, \"uds_path\": \"@DIR@/v.sock\"}", 204,
                    pre, "{\"guest_cid\": 2, \"uds_path\": \"@DIR@/v.sock\"}", "guest_cid"));
    }

    static Stream<Row> rows() {
        return table().stream();
    }

    /** A booted microVM without KVM, with the balloon device the configuration asks for (never driven). */
    static final class FakeVm implements RunningVm {
        private final VirtioBalloon balloon;
        private final vessel.devices.virtio.VirtioMem memoryHotplug;

        FakeVm(VmConfig config) {
            try {
                // Reserved, never touched: no driver plugs anything here.
                memoryHotplug = config.memoryHotplug() == null ? null : new vessel.devices.virtio.VirtioMem(
                        vessel.memory.PluggableRegion.allocate(vessel.boot.GuestLayout.hotplugBase(config.memoryBytes()),
                                config.memoryHotplug().totalBytes(), config.memoryHotplug().blockBytes()),
                        config.memoryHotplug().slotBytes());
            } catch (vessel.sys.SysException e) {
                throw new IllegalStateException(e);
            }
            balloon = config.balloon() == null ? null : new VirtioBalloon((int) (config.balloon().targetMib() << 8),
                    new VirtioBalloon.Features(config.balloon().deflateOnOom(), config.balloon().statsIntervalSeconds() > 0,
                            config.balloon().freePageHinting(), config.balloon().freePageReporting()),
                    config.balloon().statsIntervalSeconds());
        }

        @Override
        public void pause() {
        }

        @Override
        public void resume() {
        }

        @Override
        public void sendCtrlAltDel() {
        }

        @Override
        public long[] exitCounts() {
            return new long[vessel.kvm.ExitReason.COUNT + 1];
        }

        @Override
        public List<DeviceMetrics> deviceMetrics() {
            return List.of();
        }

        @Override
        public void replaceDrive(String id, Path image) {
        }

        @Override
        public void updateDriveRateLimiter(String id, TokenBucket.Config bandwidth, TokenBucket.Config ops) {
        }

        @Override
        public void updateNetRateLimiters(String id, RateLimiter.Config rx, RateLimiter.Config tx) {
        }

        @Override
        public VirtioBalloon balloon() {
            return balloon;
        }

        @Override
        public vessel.devices.virtio.VirtioMem memoryHotplug() {
            return memoryHotplug;
        }

        @Override
        public void updatePmemRateLimiter(String id, TokenBucket.Config bandwidth, TokenBucket.Config ops) {
        }

        @Override
        public void snapshot(Path state, Path memory, vessel.vmm.snapshot.VmSnapshot.Type type) {
        }

        @Override
        public VirtualMachine machine() {
            return null;
        }
    }

    @TempDir
    Path dir;
    private Path kernel;
    private Path disk;

    @BeforeEach
    void files() throws IOException {
        kernel = Files.writeString(dir.resolve("vmlinux"), "kernel");
        disk = Files.write(dir.resolve("disk.ext4"), new byte[4096]);
    }

    private String fill(String body) {
        return body == null ? null : body.replace("@KERNEL@", kernel.toString()).replace("@DISK@", disk.toString())
                .replace("@DIR@", dir.toString());
    }

    /**
     * A microVM configured with one of everything the rows touch (boot source, a root drive, eth0, a balloon
     * with statistics and hinting, a pmem device), booted by the fake when {@code phase} is POST.
     */
    private Router routerIn(Phase phase) {
        Vmm vmm = new Vmm("conformance", new RouterTest.RecordingLauncher(), FakeVm::new);
        Router router = new Router(vmm);
        send(router, "PUT", "/boot-source", "{\"kernel_image_path\": \"@KERNEL@\"}", 204);
        send(router, "PUT", "/drives/rootfs",
                "{\"drive_id\": \"rootfs\", \"path_on_host\": \"@DISK@\", \"is_root_device\": true}", 204);
        send(router, "PUT", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\"}", 204);
        send(router, "PUT", "/balloon", "{\"amount_mib\": 0, \"deflate_on_oom\": true, \"stats_polling_interval_s\": 1, "
                + "\"free_page_hinting\": true}", 204);
        send(router, "PUT", "/mmds", "{}", 204); // a store to PATCH
        send(router, "PUT", "/hotplug/memory", "{\"total_size_mib\": 128}", 204);
        send(router, "PUT", "/pmem/pm0", "{\"id\": \"pm0\", \"path_on_host\": \"@DISK@\"}", 204);
        if (phase != Phase.PRE) {
            send(router, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", 204);
        }
        if (phase == Phase.PAUSED) {
            send(router, "PATCH", "/vm", "{\"state\": \"Paused\"}", 204);
        }
        return router;
    }

    private Router.Reply send(Router router, String method, String path, String body, int expected) {
        String filled = fill(body);
        Router.Reply r = router.handle(method, path, filled == null ? null : filled.getBytes(StandardCharsets.UTF_8));
        assertEquals(expected, r.status(), method + " " + path + " " + filled + ": " + text(r));
        return r;
    }

    private static String text(Router.Reply r) {
        return r.body() == null ? "" : new String(r.body(), StandardCharsets.UTF_8);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("rows")
    void validRequestSucceeds(Row row) throws IOException {
        Assumptions.assumeTrue(row.pending() == null, "pending: " + row.pending());
        Request v = row.valid();
        Router.Reply r = send(routerIn(v.phase()), v.method(), v.path(), v.body(), row.validStatus());
        if (row.validStatus() == 200) {
            assertTrue(JsonValue.parse(r.body()) instanceof vessel.json.JsonObject, text(r));
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("rows")
    void invalidRequestIsRefusedWithOneLine(Row row) throws IOException {
        Assumptions.assumeTrue(row.pending() == null, "pending: " + row.pending());
        Request bad = row.invalid();
        Router.Reply r = send(routerIn(bad.phase()), bad.method(), bad.path(), bad.body(), 400);
        String message = JsonValue.parse(r.body()).get("fault_message").asString();
        assertTrue(message.contains(row.invalidFragment()), message);
        assertTrue(!message.contains("\n") && !message.contains("Exception"), message);
    }

    @Test
    void theTableCoversEveryMethodAndPathOfTheDescription() throws IOException {
        Assumptions.assumeTrue(Files.isRegularFile(DESCRIPTION), "no " + DESCRIPTION);
        Set<String> described = new TreeSet<>();
        String path = null;
        Pattern pathLine = Pattern.compile("^  (/\\S*):\\s*$");
        Pattern methodLine = Pattern.compile("^    (get|put|patch|post|delete):\\s*$");
        for (String line : Files.readAllLines(DESCRIPTION)) {
            if (line.startsWith("definitions:")) {
                break;
            }
            Matcher p = pathLine.matcher(line);
            Matcher m = methodLine.matcher(line);
            if (p.matches()) {
                path = p.group(1);
            } else if (m.matches() && path != null) {
                described.add(m.group(1).toUpperCase(java.util.Locale.ROOT) + " " + path);
            }
        }
        assertTrue(described.size() > 30, "parsed only " + described);
        Set<String> tabled = new LinkedHashSet<>();
        for (Row row : table()) {
            assertTrue(tabled.add(row.toString()), "twice in the table: " + row);
        }
        assertEquals(described, new TreeSet<>(tabled));
    }

    @Test
    void balloonStatisticsAnswerWithFirecrackersFieldNames() throws IOException {
        Router router = routerIn(Phase.POST);
        Map<?, ?> stats = ((Map) JsonValue.parse(send(router, "GET", "/balloon/statistics", null, 200).body()).toPlain());
        assertEquals(Set.of("target_pages", "actual_pages", "target_mib", "actual_mib"), stats.keySet());
        send(router, "PATCH", "/balloon", "{\"amount_mib\": 64}", 204);
        stats = ((Map) JsonValue.parse(send(router, "GET", "/balloon/statistics", null, 200).body()).toPlain());
        assertEquals(64 * 256, stats.get("target_pages"));
        assertEquals(64, stats.get("target_mib"));
        Map<?, ?> config = ((Map) JsonValue.parse(send(router, "GET", "/balloon", null, 200).body()).toPlain());
        assertEquals(Map.of("amount_mib", 64, "deflate_on_oom", true, "stats_polling_interval_s", 1,
                "free_page_hinting", true, "free_page_reporting", false), config);
        // More than the guest has (128 MiB by default) is refused.
        assertTrue(text(send(router, "PATCH", "/balloon", "{\"amount_mib\": 129}", 400)).contains("too large"));
        // PUT only before boot.
        assertTrue(text(send(router, "PUT", "/balloon", "{\"amount_mib\": 1, \"deflate_on_oom\": false}", 400))
                .contains("not supported after starting"));
    }

    @Test
    void balloonRulesBeforeBoot() {
        Vmm vmm = new Vmm("pre", new RouterTest.RecordingLauncher(), FakeVm::new);
        Router router = new Router(vmm);
        assertTrue(text(send(router, "GET", "/balloon", null, 400)).contains("No balloon device found"));
        assertTrue(text(send(router, "PATCH", "/balloon", "{\"amount_mib\": 1}", 400))
                .contains("not supported before starting"));
        assertTrue(text(send(router, "PUT", "/balloon", "{\"amount_mib\": 1, \"deflate_on_oom\": false, "
                + "\"stats_polling_interval_s\": 65536}", 400)).contains("expected u16"));
        send(router, "PUT", "/balloon", "{\"amount_mib\": 1, \"deflate_on_oom\": false}", 204);
        send(router, "PUT", "/boot-source", "{\"kernel_image_path\": \"@KERNEL@\"}", 204);
        send(router, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", 204);
        // Statistics were not enabled: 400, as Firecracker.
        assertTrue(text(send(router, "GET", "/balloon/statistics", null, 400)).contains("not enabled"));
        assertTrue(text(send(router, "PATCH", "/balloon/statistics", "{\"stats_polling_interval_s\": 3}", 400))
                .contains("Cannot enable/disable"));
        assertTrue(text(send(router, "PATCH", "/balloon/hinting/start", null, 400)).contains("hinting is not enabled"));
    }

    @Test
    void whatTheApiConfiguresReachesTheVm() {
        RouterTest.RecordingLauncher launcher = new RouterTest.RecordingLauncher();
        List<VmConfig> booted = new ArrayList<>();
        Vmm vmm = new Vmm("cfg", launcher, config -> {
            booted.add(config);
            return new FakeVm(config);
        });
        Router router = new Router(vmm);
        send(router, "PUT", "/boot-source", "{\"kernel_image_path\": \"@KERNEL@\"}", 204);
        send(router, "PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 256, \"smt\": true}", 204);
        send(router, "PUT", "/balloon", "{\"amount_mib\": 32, \"deflate_on_oom\": true, \"free_page_reporting\": true}", 204);
        send(router, "PUT", "/serial", "{\"serial_out_path\": \"@DIR@/serial.log\", "
                + "\"rate_limiter\": {\"size\": 1000, \"refill_time\": 100}}", 204);
        send(router, "PUT", "/cpu-config", "{\"kvm_capabilities\": [\"25\"], \"cpuid_modifiers\": [{\"leaf\": \"1\", "
                + "\"subleaf\": \"0b0\", \"flags\": 0, \"modifiers\": [{\"register\": \"edx\", \"bitmap\": \"" + BITS32
                + "\"}]}]}", 204);
        send(router, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", 204);
        VmConfig c = booted.getFirst();
        assertEquals(new vessel.vmm.BalloonConfig(32, true, 0, false, true), c.balloon());
        assertEquals(dir.resolve("serial.log"), c.serial().file());
        assertEquals(new TokenBucket.Config(1000, 0, 100), c.serial().rateLimit());
        assertTrue(c.smt());
        assertEquals(List.of(25), c.cpuTemplate().requiredCaps());
        vessel.vmm.CpuTemplate.CpuidChange leaf1 = c.cpuTemplate().cpuid().getFirst();
        assertEquals(1, leaf1.leaf());
        assertEquals(new vessel.vmm.CpuTemplate.BitChange(1, 1), leaf1.registers().getFirst().change());
    }
}
