package vessel.api;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import vessel.json.JsonValue;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import vessel.boot.KernelLoader;
import vessel.vmm.DriveConfig;
import vessel.vmm.VirtualMachine;
import vessel.vmm.VmConfig;
import vessel.vmm.control.Lifecycle;
import vessel.vmm.control.RunningVm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The request table and the JSON mapping, without a socket: bodies in, status and JSON out, VmConfig made. */
class RouterTest {
    /** Records the VmConfig it is asked to boot, then fails as a host without KVM would. */
    static final class RecordingLauncher implements Launcher {
        VmConfig launched;
        String logLevel;
        Path logPath;

        @Override
        public VirtualMachine launch(VmConfig config) throws IOException {
            launched = config;
            throw new IOException("no VM in this test");
        }

        String restored;

        @Override
        public VirtualMachine restore(Path state, Path memory, boolean paused, boolean trackDirtyPages,
                                      vessel.vmm.RestoreOverrides overrides) throws vessel.vmm.ConfigException {
            restored = state + " " + memory + (paused ? " paused" : " running") + (trackDirtyPages ? " tracked" : "")
                    + (overrides.taps().isEmpty() ? "" : " taps " + overrides.taps())
                    + (overrides.vsockUds() == null ? "" : " vsock " + overrides.vsockUds());
            throw new vessel.vmm.ConfigException("no VM in this test");
        }

        @Override
        public void configureLogging(String level, Path path, boolean showLevel, boolean showOrigin) {
            logLevel = level;
            logPath = path;
        }
    }

    /** A booted microVM without KVM: drives swap by name, device counters are whatever the test sets. */
    static final class FakeVm implements RunningVm {
        final java.util.Map<String, Path> drives = new java.util.LinkedHashMap<>();
        List<vessel.devices.DeviceMetrics> devices = List.of();

        FakeVm(VmConfig config) {
            config.drives().forEach(d -> drives.put(d.id(), d.path()));
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
        public List<vessel.devices.DeviceMetrics> deviceMetrics() {
            return devices;
        }

        @Override
        public void replaceDrive(String id, Path image) throws IOException {
            if (image.getFileName().toString().startsWith("broken")) {
                throw new IOException("Input/output error");
            }
            drives.put(id, image);
        }

        final java.util.Map<String, String> limits = new java.util.LinkedHashMap<>();

        @Override
        public void updateDriveRateLimiter(String id, vessel.devices.TokenBucket.Config bandwidth,
                                           vessel.devices.TokenBucket.Config ops) throws vessel.vmm.ConfigException {
            if (!drives.containsKey(id)) {
                throw new vessel.vmm.ConfigException("no drive with id " + id);
            }
            limits.put("drive " + id, bandwidth + " " + ops);
        }

        @Override
        public void updateNetRateLimiters(String id, vessel.devices.RateLimiter.Config rx,
                                          vessel.devices.RateLimiter.Config tx) {
            limits.put("net " + id, rx + " " + tx);
        }

        final List<String> snapshots = new java.util.ArrayList<>();

        @Override
        public void snapshot(Path state, Path memory, vessel.vmm.snapshot.VmSnapshot.Type type) {
            snapshots.add(type + " " + state + " " + memory);
        }

        @Override
        public VirtualMachine machine() {
            return null;
        }
    }

    @TempDir
    Path dir;
    private RecordingLauncher launcher;
    private Vmm vmm;
    private Router router;
    private Path kernel;
    private Path initrd;
    private Path disk;

    @BeforeEach
    void setUp() throws IOException {
        launcher = new RecordingLauncher();
        vmm = new Vmm("test-vm", launcher);
        router = new Router(vmm);
        kernel = Files.writeString(dir.resolve("vmlinux"), "kernel");
        initrd = Files.writeString(dir.resolve("initrd"), "initrd");
        disk = Files.write(dir.resolve("disk.ext4"), new byte[4096]);
    }

    private Router.Reply call(String method, String path, String body) {
        return router.handle(method, path, body == null ? null : body.getBytes(StandardCharsets.UTF_8));
    }

    private void ok(String method, String path, String body) {
        Router.Reply r = call(method, path, body);
        assertEquals(204, r.status(), () -> method + " " + path + ": " + text(r));
        assertNull(r.body());
    }

    private static String text(Router.Reply r) {
        return r.body() == null ? "" : new String(r.body(), StandardCharsets.UTF_8);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> json(Router.Reply r) throws IOException {
        return ((Map) JsonValue.parse(r.body()).toPlain());
    }

    private String fault(String method, String path, String body) throws IOException {
        Router.Reply r = call(method, path, body);
        assertEquals(400, r.status(), () -> method + " " + path + " " + body + ": " + text(r));
        Map<String, Object> f = json(r);
        assertEquals(List.of("fault_message"), List.copyOf(f.keySet()));
        String message = (String) f.get("fault_message");
        assertEquals(1, message.lines().count(), message);
        return message;
    }

    @Test
    void snapshotCreateIsPostBootOnAPausedMicroVmOnly() throws IOException {
        String create = "{\"snapshot_type\": \"Diff\", \"snapshot_path\": \"/s/vm.state\", \"mem_file_path\": \"/s/vm.mem\"}";
        assertEquals(Lifecycle.NOT_SUPPORTED_PRE_BOOT, fault("PUT", "/snapshot/create", create));
        FakeVm vm = bootFake(null);
        assertEquals("Create snapshot error: the microVM must be paused first (PATCH /vm with state Paused)",
                fault("PUT", "/snapshot/create", create));
        ok("PATCH", "/vm", "{\"state\": \"Paused\"}");
        ok("PUT", "/snapshot/create", create);
        ok("PUT", "/snapshot/create", "{\"snapshot_path\": \"/s/full.state\", \"mem_file_path\": \"/s/full.mem\"}");
        assertEquals(List.of("DIFF /s/vm.state /s/vm.mem", "FULL /s/full.state /s/full.mem"), vm.snapshots);
        assertTrue(fault("PUT", "/snapshot/create", "{\"snapshot_path\": \"/s/x\"}").contains("mem_file_path"));
        assertTrue(fault("PUT", "/snapshot/create", "{\"snapshot_type\": \"Half\", \"snapshot_path\": \"a\", "
                + "\"mem_file_path\": \"b\"}").contains("Half"));
        assertEquals(Lifecycle.NOT_SUPPORTED_POST_BOOT, fault("PUT", "/snapshot/load",
                "{\"snapshot_path\": \"/s/vm.state\", \"mem_file_path\": \"/s/vm.mem\"}"));
    }

    @Test
    void snapshotLoadTakesExactlyOneMemorySourceOnAFreshProcess() throws IOException {
        String path = "\"snapshot_path\": \"/s/vm.state\"";
        assertEquals("missing field: either `mem_backend` or `mem_file_path` is required.",
                fault("PUT", "/snapshot/load", "{" + path + "}"));
        assertEquals("too many fields: either `mem_backend` or `mem_file_path` exclusively is required.",
                fault("PUT", "/snapshot/load", "{" + path + ", \"mem_file_path\": \"/m\", "
                        + "\"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"/m\"}}"));
        assertEquals("Load snapshot error: memory backend Uffd is not supported by Vessel (use File)",
                fault("PUT", "/snapshot/load", "{" + path + ", "
                        + "\"mem_backend\": {\"backend_type\": \"Uffd\", \"backend_path\": \"/uffd.sock\"}}"));
        // network_overrides and vsock_override reach the restore, which checks them against the snapshot.
        assertEquals("Load snapshot error: no VM in this test",
                fault("PUT", "/snapshot/load", "{" + path + ", \"mem_file_path\": \"/m\", "
                        + "\"network_overrides\": [{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap9\"}], "
                        + "\"vsock_override\": {\"uds_path\": \"/v2.sock\"}}"));
        assertEquals("/s/vm.state /m paused taps {eth0=tap9} vsock /v2.sock", launcher.restored);
        assertEquals("Load snapshot error: network override for iface eth0 is given twice",
                fault("PUT", "/snapshot/load", "{" + path + ", \"mem_file_path\": \"/m\", "
                        + "\"network_overrides\": [{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap9\"}, "
                        + "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap8\"}]}"));
        // The launcher is asked with the file backend's path, paused unless resume_vm, tracking if asked.
        assertEquals("Load snapshot error: no VM in this test", fault("PUT", "/snapshot/load", "{" + path + ", "
                + "\"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"/s/vm.mem\"}, "
                + "\"resume_vm\": true, \"track_dirty_pages\": true}"));
        assertEquals("/s/vm.state /s/vm.mem running tracked", launcher.restored);
        fault("PUT", "/snapshot/load", "{" + path + ", \"mem_file_path\": \"/old.mem\", \"enable_diff_snapshots\": false}");
        assertEquals("/s/vm.state /old.mem paused", launcher.restored);
        assertEquals("Not started", json(call("GET", "/", null)).get("state"));
        // Logger and metrics may precede a load; anything a boot uses may not.
        ok("PUT", "/logger", "{\"level\": \"Info\"}");
        ok("PUT", "/boot-source", "{\"kernel_image_path\": \"" + kernel + "\"}");
        assertEquals("Loading a microVM snapshot not allowed after configuring boot-specific resources.",
                fault("PUT", "/snapshot/load", "{" + path + ", \"mem_file_path\": \"/m\"}"));
    }

    @Test
    void instanceInfoBeforeBoot() throws IOException {
        Router.Reply r = call("GET", "/", null);
        assertEquals(200, r.status());
        assertEquals(Map.of("id", "test-vm", "state", "Not started", "vmm_version", Vmm.version(), "app_name", "vessel"),
                json(r));
    }

    @Test
    void machineConfigDefaultsPutAndPatch() throws IOException {
        assertEquals(Map.of("vcpu_count", 1, "mem_size_mib", 128, "smt", false, "track_dirty_pages", false,
                "huge_pages", "None"), json(call("GET", "/machine-config", null)));
        ok("PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 256, \"track_dirty_pages\": true}");
        ok("PATCH", "/machine-config", "{\"mem_size_mib\": 512}");
        assertEquals(Map.of("vcpu_count", 2, "mem_size_mib", 512, "smt", false, "track_dirty_pages", true,
                "huge_pages", "None"), json(call("GET", "/machine-config", null)));
        // PUT resets the optional fields it does not name, as Firecracker's does.
        ok("PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 64}");
        assertEquals(false, json(call("GET", "/machine-config", null)).get("track_dirty_pages"));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', quoteCharacter = '\'', value = {
        "string for a number     | {\"vcpu_count\": \"2\", \"mem_size_mib\": 128}            | field `vcpu_count`",
        "float for an integer    | {\"vcpu_count\": 2.5, \"mem_size_mib\": 128}             | vcpu_count",
        "number for a boolean    | {\"vcpu_count\": 2, \"mem_size_mib\": 128, \"smt\": 1}   | field `smt`",
        "number for a string     | {\"vcpu_count\": 2, \"mem_size_mib\": 128, \"cpu_template\": 5} | cpu_template",
        "unknown field           | {\"vcpu_count\": 2, \"mem_size_mib\": 128, \"ht_enabled\": false} | unknown field `ht_enabled`",
        "missing required field  | {\"vcpu_count\": 2}                                      | missing field `mem_size_mib`",
        "null required field     | {\"vcpu_count\": null, \"mem_size_mib\": 128}            | vcpu_count",
        "duplicate key           | {\"vcpu_count\": 1, \"vcpu_count\": 2, \"mem_size_mib\": 128} | vcpu_count",
        "trailing data           | {\"vcpu_count\": 1, \"mem_size_mib\": 128} x             | deserializing",
        "not an object           | [1, 2]                                                   | deserializing",
        "bad JSON                | {\"vcpu_count\": 1,                                      | deserializing",
        "null body               | null                                                     | invalid type: null",
        "too many vCPUs          | {\"vcpu_count\": 33, \"mem_size_mib\": 128}              | out of range",
        "zero memory             | {\"vcpu_count\": 1, \"mem_size_mib\": 0}                 | mem_size_mib",
        "more memory than host   | {\"vcpu_count\": 1, \"mem_size_mib\": 1099511627776}     | more than this host has",
        "smt with odd vCPUs      | {\"vcpu_count\": 3, \"mem_size_mib\": 128, \"smt\": true} | 1 or an even number when SMT",
        "cpu template            | {\"vcpu_count\": 2, \"mem_size_mib\": 128, \"cpu_template\": \"T2\"} | CPU templates",
        "2M pages, odd MiB       | {\"vcpu_count\": 2, \"mem_size_mib\": 129, \"huge_pages\": \"2M\"} | mem_size_mib must be a multiple of 2",
        "huge pages, unknown     | {\"vcpu_count\": 2, \"mem_size_mib\": 128, \"huge_pages\": \"1G\"} | unknown variant `1G` for huge_pages",
    })
    void machineConfigIsCheckedStrictly(String name, String body, String fragment) throws IOException {
        String message = fault("PUT", "/machine-config", body);
        assertTrue(message.contains(fragment), message);
        // Nothing changed.
        assertEquals(1, json(call("GET", "/machine-config", null)).get("vcpu_count"));
    }

    @Test
    void requestsThatNameNoResource() throws IOException {
        assertEquals("Invalid request method and/or path: GET /nothing.", fault("GET", "/nothing", null));
        assertEquals("Invalid request method and/or path: POST /actions.", fault("POST", "/actions", "{}"));
        assertEquals("Invalid request method and/or path: DELETE /drives/a.", fault("DELETE", "/drives/a", null));
        assertEquals("Invalid request method and/or path: PUT /boot-source/x.", fault("PUT", "/boot-source/x", "{}"));
        assertEquals("GET request cannot have a body.", fault("GET", "/", "{}"));
        assertEquals("Empty PUT request.", fault("PUT", "/machine-config", null));
        assertEquals("Empty PUT request.", fault("PUT", "/machine-config", ""));
        assertEquals("Empty PATCH request.", fault("PATCH", "/vm", null));
        assertEquals("Empty PATCH request.", fault("PATCH", "/machine-config", "{}"));
        assertEquals("The ID cannot be empty.", fault("PUT", "/drives", "{}"));
        assertEquals("The ID cannot be empty.", fault("PUT", "/drives/", "{}"));
        assertTrue(fault("PUT", "/drives/root-fs", "{}").contains("alphanumeric characters and underscores"));
    }

    @Test
    void actionsInTheWrongStateAndWithoutABootSource() throws IOException {
        assertEquals(Lifecycle.NOT_SUPPORTED_PRE_BOOT, fault("PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}"));
        assertEquals(Lifecycle.NOT_SUPPORTED_PRE_BOOT, fault("PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}"));
        assertEquals(Lifecycle.NOT_SUPPORTED_PRE_BOOT, fault("PATCH", "/vm", "{\"state\": \"Paused\"}"));
        assertEquals(Lifecycle.NOT_SUPPORTED_PRE_BOOT, fault("PATCH", "/vm", "{\"state\": \"Resumed\"}"));
        assertEquals(Lifecycle.NOT_SUPPORTED_PRE_BOOT, fault("PATCH", "/drives/rootfs", "{\"drive_id\": \"rootfs\"}"));
        assertEquals(Lifecycle.NOT_SUPPORTED_PRE_BOOT,
                fault("PATCH", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\"}"));
        assertTrue(fault("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}")
                .contains("Cannot start microvm without kernel configuration"));
        assertTrue(fault("PUT", "/actions", "{\"action_type\": \"Reboot\"}").contains("unknown variant `Reboot`"));
        assertTrue(fault("PATCH", "/vm", "{\"state\": \"Stopped\"}").contains("unknown variant `Stopped`"));
        assertTrue(fault("PUT", "/actions", "{\"action_type\": \"InstanceStart\", \"payload\": 1}")
                .contains("unknown field `payload`"));
        assertEquals(null, launcher.launched);
    }

    @Test
    void bootSourceAndDrivesMustNameReadableFiles() throws IOException {
        assertTrue(fault("PUT", "/boot-source", "{}").contains("missing field `kernel_image_path`"));
        assertTrue(fault("PUT", "/boot-source", "{\"kernel_image_path\": \"/nonexistent/vmlinux\"}")
                .contains("/nonexistent/vmlinux cannot be opened: it does not exist"));
        assertTrue(fault("PUT", "/boot-source", "{\"kernel_image_path\": \"" + dir + "\"}").contains("is a directory"));
        assertTrue(fault("PUT", "/boot-source", "{\"kernel_image_path\": \"" + kernel + "\", \"initrd_path\": \"/no/initrd\"}")
                .contains("initrd file /no/initrd"));
        assertTrue(fault("PUT", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/no/disk\", "
                + "\"is_root_device\": true, \"is_read_only\": false}").contains("/no/disk"));
        assertTrue(fault("PUT", "/drives/rootfs", "{\"drive_id\": \"other\", \"path_on_host\": \"" + disk + "\", "
                + "\"is_root_device\": true}").contains("does not match"));
        assertTrue(fault("PUT", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"" + disk + "\"}")
                .contains("missing field `is_root_device`"));
        ok("PUT", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"" + disk + "\", \"is_root_device\": true}");
        assertTrue(fault("PUT", "/drives/second", "{\"drive_id\": \"second\", \"path_on_host\": \"" + disk + "\", "
                + "\"is_root_device\": true}").contains("A root block device already exists!"));
        assertTrue(fault("PUT", "/drives/x", "{\"drive_id\": \"x\", \"path_on_host\": \"" + disk + "\", "
                + "\"is_root_device\": false, \"io_engine\": \"Async\"}").contains("Async"));
        ok("PUT", "/drives/second", "{\"drive_id\": \"second\", \"path_on_host\": \"" + disk + "\", "
                + "\"is_root_device\": false, \"rate_limiter\": {\"ops\": {\"size\": 10, \"refill_time\": 100}}}");
        assertEquals("Drive config error: invalid value: integer `-1`, expected u64 (rate_limiter.bandwidth.size)",
                fault("PUT", "/drives/second", "{\"drive_id\": \"second\", \"path_on_host\": \"" + disk + "\", "
                + "\"is_root_device\": false, \"rate_limiter\": {\"bandwidth\": {\"size\": -1, \"refill_time\": 100}}}"));
        assertTrue(fault("PUT", "/drives/second", "{\"drive_id\": \"second\", \"path_on_host\": \"" + disk + "\", "
                + "\"is_root_device\": false, \"rate_limiter\": {\"ops\": {\"size\": 10}}}")
                .contains("missing field `refill_time`"));
        assertTrue(fault("PUT", "/drives/second", "{\"drive_id\": \"second\", \"path_on_host\": \"" + disk + "\", "
                + "\"is_root_device\": false, \"rate_limiter\": {\"iops\": {\"size\": 10, \"refill_time\": 1}}}")
                .contains("unknown field `iops`"));
    }

    @Test
    void theConfigurationBecomesOneVmConfig() throws IOException {
        Path data = Files.write(dir.resolve("data.img"), new byte[512]);
        ok("PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 256}");
        ok("PUT", "/boot-source", "{\"kernel_image_path\": \"" + kernel + "\", \"initrd_path\": \"" + initrd
                + "\", \"boot_args\": \"console=ttyS0 reboot=k panic=1 pci=off\"}");
        ok("PUT", "/drives/data", "{\"drive_id\": \"data\", \"path_on_host\": \"" + data + "\", "
                + "\"is_root_device\": false, \"is_read_only\": true}");
        ok("PUT", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"" + disk + "\", "
                + "\"is_root_device\": true, \"is_read_only\": false, \"cache_type\": \"Unsafe\", \"io_engine\": \"Sync\","
                + " \"rate_limiter\": null, \"partuuid\": null}");
        ok("PUT", "/entropy", "{}");
        String message = fault("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
        assertEquals("Start microvm error: no VM in this test", message);
        VmConfig c = launcher.launched;
        assertEquals(kernel, c.kernel());
        assertEquals(List.of(initrd), c.initrds());
        assertEquals(256L << 20, c.memoryBytes());
        assertEquals(2, c.cpus());
        assertEquals("console=ttyS0 reboot=k panic=1 pci=off root=/dev/vda rw", c.cmdline());
        // The root drive is the guest's first (vda), whatever order the drives came in.
        assertEquals(List.of(new DriveConfig("rootfs", disk, false), new DriveConfig("data", data, true)), c.drives());
        assertTrue(c.entropy());
        assertEquals(VmConfig.RebootAction.STOP, c.onReboot());
        // A failed start leaves the microVM not started: the request can be repeated.
        assertEquals("Not started", json(call("GET", "/", null)).get("state"));
    }

    /**
     * Boots a microVM with drive rootfs (read-write) and interface eth0 on a {@link FakeVm}, with metrics
     * written to {@code metrics} unless that is null.
     */
    private FakeVm bootFake(Path metrics) throws IOException {
        FakeVm[] booted = new FakeVm[1];
        vmm = new Vmm("test-vm", launcher, config -> booted[0] = new FakeVm(config));
        router = new Router(vmm);
        if (metrics != null) {
            ok("PUT", "/metrics", "{\"metrics_path\": \"" + metrics + "\"}");
        }
        ok("PUT", "/boot-source", "{\"kernel_image_path\": \"" + kernel + "\"}");
        ok("PUT", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"" + disk + "\", "
                + "\"is_root_device\": true, \"is_read_only\": false}");
        ok("PUT", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\"}");
        ok("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
        return booted[0];
    }

    @Test
    void afterBootPatchDriveSwapsItsImageAndChangesItsRateLimiter() throws IOException {
        FakeVm vm = bootFake(null);
        Path next = Files.write(dir.resolve("next.ext4"), new byte[8192]);
        ok("PATCH", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"" + next + "\"}");
        assertEquals(next, vm.drives.get("rootfs"));
        assertEquals(next.toString(), ((Map<?, ?>) ((List<?>) json(call("GET", "/vm/config", null)).get("drives"))
                .getFirst()).get("path_on_host"));
        ok("PATCH", "/drives/rootfs", "{\"drive_id\": \"rootfs\"}"); // nothing to change

        ok("PATCH", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"rate_limiter\": "
                + "{\"bandwidth\": {\"size\": 1000, \"one_time_burst\": 5, \"refill_time\": 100}}}");
        assertEquals("Config[size=1000, oneTimeBurst=5, refillTimeMs=100] null", vm.limits.get("drive rootfs"));
        ok("PATCH", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"rate_limiter\": "
                + "{\"ops\": {\"size\": 7, \"refill_time\": 50}}}");
        assertEquals(Map.of("bandwidth", Map.of("size", 1000, "one_time_burst", 5, "refill_time", 100),
                        "ops", Map.of("size", 7, "refill_time", 50)),
                ((Map<?, ?>) ((List<?>) json(call("GET", "/vm/config", null)).get("drives")).getFirst()).get("rate_limiter"),
                "the second PATCH replaced ops and kept bandwidth");
        assertEquals("Drive config error: invalid value: integer `-3`, expected u64 (rate_limiter.ops.refill_time)",
                fault("PATCH", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"rate_limiter\": "
                + "{\"ops\": {\"size\": 7, \"refill_time\": -3}}}"));
        assertTrue(fault("PATCH", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/no/disk\"}")
                .contains("/no/disk cannot be opened: it does not exist"));
        assertTrue(fault("PATCH", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"" + dir + "\"}")
                .contains("is a directory"));
        Path broken = Files.write(dir.resolve("broken.img"), new byte[512]);
        assertEquals("Drive config error: cannot switch drive rootfs to " + broken + ": Input/output error",
                fault("PATCH", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"" + broken + "\"}"));
        assertEquals(next, vm.drives.get("rootfs"), "a failed swap keeps the drive's image");
        assertTrue(fault("PATCH", "/drives/data", "{\"drive_id\": \"data\", \"path_on_host\": \"" + next + "\"}")
                .contains("no drive with id data"));
        assertTrue(fault("PATCH", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"is_read_only\": true}")
                .contains("unknown field `is_read_only`"));
        // PUT stays pre-boot only.
        assertEquals(Lifecycle.NOT_SUPPORTED_POST_BOOT, fault("PUT", "/drives/rootfs", "{\"drive_id\": \"rootfs\", "
                + "\"path_on_host\": \"" + next + "\", \"is_root_device\": true}"));
        Map<String, Object> line = vmm.metrics().snapshot(null, null, null, null);
        assertEquals(10L, ((Map<?, ?>) line.get("patch_api_requests")).get("drive_count"));
        assertEquals(6L, ((Map<?, ?>) line.get("patch_api_requests")).get("drive_fails"));
    }

    @Test
    void putNetworkInterfaceTakesRateLimitersAndGetVmConfigShowsThem() throws IOException {
        ok("PUT", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", "
                + "\"tx_rate_limiter\": {\"bandwidth\": {\"size\": 1000, \"refill_time\": 100}}}");
        assertEquals(Map.of("bandwidth", Map.of("size", 1000, "refill_time", 100)),
                ((Map<?, ?>) ((List<?>) json(call("GET", "/vm/config", null)).get("network-interfaces")).getFirst())
                        .get("tx_rate_limiter"));
        ok("PUT", "/network-interfaces/eth1", "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\", "
                + "\"rx_rate_limiter\": null, \"tx_rate_limiter\": {}}");
        assertEquals("Network config error: invalid value: integer `-2`, expected u64 (rx_rate_limiter.ops.one_time_burst)",
                fault("PUT", "/network-interfaces/eth2", "{\"iface_id\": \"eth2\", \"host_dev_name\": \"tap2\", "
                        + "\"rx_rate_limiter\": {\"ops\": {\"size\": 1, \"one_time_burst\": -2, \"refill_time\": 1}}}"));
        assertTrue(fault("PUT", "/network-interfaces/eth2", "{\"iface_id\": \"eth2\", \"host_dev_name\": \"tap2\", "
                + "\"rx_rate_limiter\": {\"ops\": {\"size\": \"many\", \"refill_time\": 1}}}").contains("size"));
    }

    @Test
    void entropyTakesARateLimiterThatReachesTheVmConfig() throws IOException {
        ok("PUT", "/boot-source", "{\"kernel_image_path\": \"" + kernel + "\"}");
        ok("PUT", "/entropy", "{\"rate_limiter\": {\"bandwidth\": {\"size\": 64, \"refill_time\": 10}}}");
        assertEquals("Entropy device error: invalid value: integer `-64`, expected u64 (rate_limiter.bandwidth.size)",
                fault("PUT", "/entropy", "{\"rate_limiter\": {\"bandwidth\": {\"size\": -64, \"refill_time\": 10}}}"));
        fault("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}"); // the recording launcher boots nothing
        assertEquals(new vessel.devices.RateLimiter.Config(new vessel.devices.TokenBucket.Config(64, 0, 10), null),
                launcher.launched.entropyRateLimit());
    }

    @Test
    void afterBootPatchNetworkInterfaceChangesRateLimiters() throws IOException {
        FakeVm vm = bootFake(null);
        ok("PATCH", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\"}");
        assertNull(vm.limits.get("net eth0"), "nothing given, nothing changed");
        ok("PATCH", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\", \"rx_rate_limiter\": "
                + "{\"ops\": {\"size\": 10, \"refill_time\": 100}}}");
        assertEquals("Config[bandwidth=null, ops=Config[size=10, oneTimeBurst=0, refillTimeMs=100]] null",
                vm.limits.get("net eth0"));
        assertEquals(Map.of("ops", Map.of("size", 10, "refill_time", 100)),
                ((Map<?, ?>) ((List<?>) json(call("GET", "/vm/config", null)).get("network-interfaces")).getFirst())
                        .get("rx_rate_limiter"));
        assertTrue(fault("PATCH", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\", \"tx_rate_limiter\": "
                + "{\"bandwidth\": {\"size\": -10, \"refill_time\": 100}}}").contains("tx_rate_limiter.bandwidth.size"));
        assertTrue(fault("PATCH", "/network-interfaces/eth1", "{\"iface_id\": \"eth1\"}")
                .contains("no network interface with id eth1"));
    }

    @Test
    void flushMetricsAfterBootWritesTheDevicesDeltas() throws IOException {
        Path metrics = dir.resolve("metrics.json");
        FakeVm vm = bootFake(metrics);
        vm.devices = List.of(new vessel.devices.DeviceMetrics.Block("rootfs", 4, 1, 0, 16384, 512, 0, 0, 0, 0),
                new vessel.devices.DeviceMetrics.Net("eth0", 600, 3, 0, 0, 200, 2, 0, 0));
        ok("PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}");
        vm.devices = List.of(new vessel.devices.DeviceMetrics.Block("rootfs", 6, 1, 0, 20480, 512, 0, 0, 0, 0),
                new vessel.devices.DeviceMetrics.Net("eth0", 600, 3, 0, 0, 300, 3, 0, 0));
        ok("PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}");
        List<String> lines = Files.readAllLines(metrics);
        assertEquals(2, lines.size());
        Map<?, ?> first = ((Map) JsonValue.parse(lines.get(0)).toPlain());
        Map<?, ?> second = ((Map) JsonValue.parse(lines.get(1)).toPlain());
        assertEquals(16384, ((Map<?, ?>) first.get("block_rootfs")).get("read_bytes"));
        assertEquals(4, ((Map<?, ?>) first.get("block")).get("read_count"));
        assertEquals(2, ((Map<?, ?>) second.get("block_rootfs")).get("read_count"));
        assertEquals(4096, ((Map<?, ?>) second.get("block")).get("read_bytes"));
        assertEquals(0, ((Map<?, ?>) second.get("block")).get("write_count"));
        assertEquals(100, ((Map<?, ?>) second.get("net_eth0")).get("tx_bytes_count"));
        assertEquals(0, ((Map<?, ?>) second.get("net")).get("rx_packets_count"));
    }

    @Test
    void withoutBootArgsTheCommandLineIsVesselsDefault() throws IOException {
        ok("PUT", "/boot-source", "{\"kernel_image_path\": \"" + kernel + "\"}");
        ok("PUT", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"" + disk + "\", "
                + "\"is_root_device\": true, \"is_read_only\": true, \"partuuid\": \"abcd-01\"}");
        fault("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
        assertEquals(KernelLoader.DEFAULT_LINUX_CMDLINE + " root=PARTUUID=abcd-01 ro", launcher.launched.cmdline());
    }

    @Test
    void networkAndVsockAreCheckedStoredAndPassedToTheVmm() throws IOException {
        ok("PUT", "/boot-source", "{\"kernel_image_path\": \"" + kernel + "\"}");
        ok("PUT", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", "
                + "\"guest_mac\": \"AA:FC:00:00:00:01\"}");
        ok("PUT", "/vsock", "{\"guest_cid\": 3, \"uds_path\": \"/tmp/v.sock\"}");
        assertTrue(fault("PUT", "/network-interfaces/eth1", "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap0\"}")
                .contains("already used"));
        assertTrue(fault("PUT", "/network-interfaces/eth1", "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\", "
                + "\"guest_mac\": \"nope\"}").contains("MAC"));
        assertTrue(fault("PUT", "/vsock", "{\"guest_cid\": 2, \"uds_path\": \"/tmp/v.sock\"}").contains("guest_cid"));
        Map<String, Object> config = json(call("GET", "/vm/config", null));
        assertEquals(List.of(Map.of("iface_id", "eth0", "host_dev_name", "tap0", "guest_mac", "AA:FC:00:00:00:01")),
                config.get("network-interfaces"));
        assertEquals(Map.of("guest_cid", 3, "uds_path", "/tmp/v.sock"), config.get("vsock"));
        fault("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}"); // the test's launcher makes no VM
        assertEquals(List.of(new vessel.vmm.NetConfig("eth0", "tap0", "AA:FC:00:00:00:01")), launcher.launched.net());
        assertEquals(new vessel.vmm.VsockConfig(3, java.nio.file.Path.of("/tmp/v.sock")), launcher.launched.vsock());
    }

    @Test
    void loggerAndMetricsSettings() throws IOException {
        Path log = dir.resolve("vessel.log");
        ok("PUT", "/logger", "{\"level\": \"Debug\", \"log_path\": \"" + log + "\", \"show_level\": true}");
        assertEquals("debug", launcher.logLevel);
        assertEquals(log, launcher.logPath);
        assertTrue(fault("PUT", "/logger", "{\"level\": \"Loud\"}").contains("unknown variant `Loud`"));
        Path metrics = dir.resolve("metrics.json");
        ok("PUT", "/metrics", "{\"metrics_path\": \"" + metrics + "\"}");
        assertTrue(Files.exists(metrics));
        assertTrue(fault("PUT", "/metrics", "{\"metrics_path\": \"" + metrics + "\"}").contains("Reinitialization"));
        assertTrue(fault("PUT", "/metrics", "{}").contains("missing field `metrics_path`"));
    }

    @Test
    void metricsCountRequestsAndFailuresSinceTheLastLine() {
        call("GET", "/", null);
        call("GET", "/", null);
        call("PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 64}");
        call("PUT", "/machine-config", "{}");
        Map<String, Object> line = vmm.metrics().snapshot(null, null, null, null);
        assertEquals(2L, ((Map<?, ?>) line.get("get_api_requests")).get("instance_info_count"));
        assertEquals(2L, ((Map<?, ?>) line.get("put_api_requests")).get("machine_cfg_count"));
        assertEquals(1L, ((Map<?, ?>) line.get("put_api_requests")).get("machine_cfg_fails"));
        assertEquals(1L, ((Map<?, ?>) line.get("api_server")).get("sync_response_fails"));
        assertEquals(0L, ((Map<?, ?>) line.get("vcpu")).get("exit_io"));
        assertTrue(line.containsKey("block") && line.containsKey("net") && line.containsKey("utc_timestamp_ms"));
        Map<String, Object> next = vmm.metrics().snapshot(null, null, null, null);
        assertEquals(0L, ((Map<?, ?>) next.get("get_api_requests")).get("instance_info_count"));
    }

    @Test
    void firecrackersExampleConfigFileLoadsUnchanged() {
        // tests/framework/vm_config.json of Firecracker's repository, with this test's paths.
        String file = """
                {
                  "boot-source": {
                    "kernel_image_path": "%s",
                    "boot_args": "console=ttyS0 reboot=k panic=1 pci=off",
                    "initrd_path": null
                  },
                  "drives": [
                    {
                      "drive_id": "rootfs",
                      "path_on_host": "%s",
                      "is_root_device": true,
                      "partuuid": null,
                      "is_read_only": false,
                      "cache_type": "Unsafe",
                      "io_engine": "Sync",
                      "rate_limiter": null
                    }
                  ],
                  "machine-config": {
                    "vcpu_count": 2,
                    "mem_size_mib": 1024,
                    "smt": false,
                    "track_dirty_pages": false,
                    "huge_pages": "None"
                  },
                  "cpu-config": null,
                  "balloon": null,
                  "network-interfaces": [],
                  "vsock": null,
                  "logger": null,
                  "metrics": null,
                  "mmds-config": null,
                  "entropy": null
                }
                """.formatted(kernel, disk);
        ApiException e = assertThrows(ApiException.class, () -> vmm.bootFromConfigFile(file.getBytes(StandardCharsets.UTF_8)));
        assertEquals("Start microvm error: no VM in this test", e.getMessage());
        assertTrue(e.hostFailure());
        assertEquals(1024L << 20, launcher.launched.memoryBytes());
        assertEquals(List.of(new DriveConfig("rootfs", disk, false)), launcher.launched.drives());
    }

    @Test
    void configFilesWithWhatVesselLacksOrDoesNotKnowAreRefused() {
        String base = "{\"boot-source\": {\"kernel_image_path\": \"" + kernel + "\"}";
        assertTrue(configError(base + ", \"memory-hotplug\": {\"total_size_mib\": 100}}")
                .contains("Memory hotplug config error: Total size must not be lower than slot size (128 MiB)"));
        assertTrue(configError(base + ", \"balloon\": {\"amount_mib\": 1}}").contains("missing field `deflate_on_oom`"));
        assertTrue(configError(base + ", \"frobnicate\": 1}").contains("unknown field `frobnicate`"));
        assertTrue(configError(base + ", \"machine-config\": {\"vcpu_count\": 1}}").contains("missing field `mem_size_mib`"));
        assertTrue(configError("{}").contains("missing field `boot-source`"));
        assertTrue(configError("{").contains("deserializing"));
    }

    private String configError(String json) {
        ApiException e = assertThrows(ApiException.class,
                () -> new Vmm("x", launcher).bootFromConfigFile(json.getBytes(StandardCharsets.UTF_8)));
        assertEquals(false, e.hostFailure(), e.getMessage());
        return e.getMessage();
    }

    @Test
    void vmConfigExportsWhatWasSetInTheConfigFileFormat() throws IOException {
        ok("PUT", "/boot-source", "{\"kernel_image_path\": \"" + kernel + "\", \"boot_args\": \"quiet\"}");
        ok("PUT", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"" + disk + "\", \"is_root_device\": true}");
        Map<String, Object> c = json(call("GET", "/vm/config", null));
        assertEquals(Map.of("kernel_image_path", kernel.toString(), "boot_args", "quiet"), c.get("boot-source"));
        assertEquals(List.of(Map.of("drive_id", "rootfs", "path_on_host", disk.toString(), "is_root_device", true)),
                c.get("drives"));
        assertTrue(c.containsKey("balloon") && c.get("balloon") == null);
        // What GET /vm/config gives is a config file that loads.
        ApiException e = assertThrows(ApiException.class, () -> new Vmm("y", launcher).bootFromConfigFile(call("GET", "/vm/config", null).body()));
        assertTrue(e.hostFailure(), e.getMessage());
    }
}
