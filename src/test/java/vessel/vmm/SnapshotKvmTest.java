package vessel.vmm;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import vessel.boot.EntryMode;
import vessel.devices.RateLimiter;
import vessel.devices.mmds.MmdsStore;
import vessel.testkit.NetNamespace;
import vessel.testkit.NativeTools;
import vessel.testkit.RequiresKvm;
import vessel.testkit.TestGuests;
import vessel.testkit.VesselProcess;
import vessel.vmm.snapshot.VmSnapshot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Snapshots of guests/counter.S on the real /dev/kvm: saved while paused in this JVM, restored in a new
 * process (the CLI), the guest goes on from the count and the stamp its first run had.
 */
@vessel.testkit.KvmTest
@Timeout(300)
class SnapshotKvmTest {
    private static final long COUNTER = 0x20000;
    private static final long TARGET = 0x20008;
    private static final long STAMP = 0x20010;
    /** counter.S's exit through the debug port: (5 << 1) | 1. */
    private static final int DONE = 11;

    private Path dir;

    @BeforeEach
    void setUp() throws Exception {
        RequiresKvm.assumeKvm();
        dir = Files.createTempDirectory(Files.createDirectories(NativeTools.projectDir().resolve("target/scratch")), "snap");
    }

    private static VmConfig counterGuest() throws Exception {
        return VmConfig.builder().kernel(TestGuests.get("counter.bin")).entry(EntryMode.LONG).memory("32M")
                .debugExit(true).build();
    }

    /** Runs the guest until it has counted at least {@code count}, then pauses it. */
    private static void runTo(VirtualMachine vm, long count) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (vm.memory().readLong(COUNTER) < count) {
            assertTrue(System.nanoTime() < deadline, "the guest counted only to " + vm.memory().readLong(COUNTER));
            Thread.sleep(5);
        }
        vm.pause();
    }

    /** {@code vessel run --restore-snapshot STATE --mem-file MEM}: its exit status and console. */
    private record Run(int status, String out, String err) { }

    private Run restoreInNewProcess(Path state, Path mem) throws Exception {
        Process p = new ProcessBuilder(VesselProcess.command("run", "--quiet", "--restore-snapshot", state.toString(),
                "--mem-file", mem.toString())).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .start();
        byte[] out = p.getInputStream().readAllBytes();
        byte[] err = p.getErrorStream().readAllBytes();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "restored guest did not end");
        return new Run(p.exitValue(), new String(out, StandardCharsets.UTF_8), new String(err, StandardCharsets.UTF_8));
    }

    @Test
    void aRestoredGuestGoesOnFromItsRegistersAndMemoryInANewProcessTwice() throws Exception {
        Path state = dir.resolve("vm.state");
        Path mem = dir.resolve("vm.mem");
        long stamp;
        long target;
        GuestRunTest.Console console = new GuestRunTest.Console();
        try (VirtualMachine vm = VirtualMachine.create(counterGuest(), console)) {
            vm.start();
            runTo(vm, 2000);
            long count = vm.memory().readLong(COUNTER);
            stamp = vm.memory().readLong(STAMP);
            target = count + 3000;
            vm.memory().writeLong(TARGET, target);
            VirtualMachine.SnapshotResult r = vm.snapshot(state, mem, VmSnapshot.Type.FULL);
            // The file has the guest's size; only blocks that are not zeros were written (the rest are holes).
            assertTrue(r.memoryBytesWritten() > 0 && r.memoryBytesWritten() < (1L << 20), r.toString());
            assertEquals(32L << 20, Files.size(mem));
            assertTrue(r.stateBytes() < 64 * 1024, "state file of " + r.stateBytes() + " bytes");
            // The snapshot left the VM paused and whole: it resumes and ends as its restored copies do.
            vm.resume();
            VmExit exit = vm.awaitExit(60_000);
            assertEquals(DONE, exit.status(), console.text());
        }
        assertTrue(console.text().endsWith("stamp=" + stamp + " count=" + target + "\n"), console.text());
        assertNotEquals(0, stamp);
        String expected = "stamp=" + stamp + " count=" + target + "\n";
        for (int i = 0; i < 2; i++) {
            Run run = restoreInNewProcess(state, mem);
            assertEquals(DONE, run.status(), "restore " + (i + 1) + ": " + run.err());
            // Only the line the guest prints after the restore: "counter started" was printed before it.
            assertEquals(expected, run.out(), "restore " + (i + 1) + ": " + run.err());
        }
    }

    @Test
    void aDiffAfterASmallChangeIsSmallAndBaseMergedWithItRestoresTheSameGuest() throws Exception {
        Path baseState = dir.resolve("base.state");
        Path baseMem = dir.resolve("base.mem");
        Path diffState = dir.resolve("diff.state");
        Path diffMem = dir.resolve("diff.mem");
        long stamp;
        long target;
        VirtualMachine.SnapshotResult diff;
        try (VirtualMachine vm = VirtualMachine.create(counterGuest(), new GuestRunTest.Console())) {
            vm.trackDirtyPages();
            vm.start();
            runTo(vm, 1000);
            vm.snapshot(baseState, baseMem, VmSnapshot.Type.FULL);
            vm.resume();
            runTo(vm, vm.memory().readLong(COUNTER) + 500);
            stamp = vm.memory().readLong(STAMP);
            target = vm.memory().readLong(COUNTER) + 2000;
            vm.memory().writeLong(TARGET, target); // the VMM's own write: a page KVM's log does not see
            diff = vm.snapshot(diffState, diffMem, VmSnapshot.Type.DIFF);
        }
        long guest = 32L << 20;
        assertTrue(diff.memoryBytesWritten() > 0 && diff.memoryBytesWritten() <= guest / 100,
                "diff holds " + diff.memoryBytesWritten() + " bytes of a " + guest + "-byte guest");
        assertEquals(guest, Files.size(diffMem), "a diff's memory file has the guest's size (with holes)");

        // The base alone never reaches a target: restoring it needs the diff.
        Path merged = dir.resolve("merged.mem");
        Files.copy(baseMem, merged, StandardCopyOption.REPLACE_EXISTING);
        Process merge = new ProcessBuilder(VesselProcess.command("snapshot", "merge", "--state", diffState.toString(),
                "--diff-mem", diffMem.toString(), "--base-mem", merged.toString())).redirectErrorStream(true).start();
        String mergeOut = new String(merge.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(merge.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, merge.exitValue(), mergeOut);

        GuestRunTest.Console console = new GuestRunTest.Console();
        try (VirtualMachine vm = VirtualMachine.restore(diffState, merged, console)) {
            assertEquals(target, vm.memory().readLong(TARGET));
            vm.start();
            VmExit exit = vm.awaitExit(60_000);
            assertEquals(DONE, exit.status(), console.text());
        }
        assertEquals("stamp=" + stamp + " count=" + target + "\n", console.text());
    }

    @Test
    void aSnapshotForOtherDevicesOrWithTheWrongMemoryFileIsRefusedAndNothingRuns() throws Exception {
        Path state = dir.resolve("vm.state");
        Path mem = dir.resolve("vm.mem");
        try (VirtualMachine vm = VirtualMachine.create(counterGuest(), new GuestRunTest.Console())) {
            vm.start();
            runTo(vm, 100);
            vm.snapshot(state, mem, VmSnapshot.Type.FULL);
        }
        // The same snapshot, written by a Vessel whose machine had another device.
        VmSnapshot s = vessel.vmm.snapshot.SnapshotFile.read(state);
        java.util.List<VmSnapshot.DeviceState> devices = new java.util.ArrayList<>(s.devices());
        devices.add(new VmSnapshot.DeviceState("virtio-gpu", "some.State", new byte[0]));
        Path other = dir.resolve("other.state");
        vessel.vmm.snapshot.SnapshotFile.write(other, new VmSnapshot(s.machine(), s.vm(), s.vcpus(), devices, s.memory()));
        ConfigException e = assertThrows(ConfigException.class,
                () -> VirtualMachine.restore(other, mem, new GuestRunTest.Console()));
        assertEquals("snapshot " + other + " expects devices [COM1, i8042, rtc, virtio-gpu] but this Vessel builds"
                + " [COM1, i8042, rtc] for it", e.getMessage());

        Path shortMem = dir.resolve("short.mem");
        Files.write(shortMem, new byte[4096]);
        e = assertThrows(ConfigException.class, () -> VirtualMachine.restore(state, shortMem, new GuestRunTest.Console()));
        assertEquals("memory file " + shortMem + " is 4096 bytes; the snapshot's guest has 33554432 bytes of memory",
                e.getMessage());
        e = assertThrows(ConfigException.class, () -> VirtualMachine.restore(mem, mem, new GuestRunTest.Console()));
        assertEquals("snapshot file " + mem + " is not a Vessel state file (no VESSELVM header)", e.getMessage());
        // The good pair still restores after all that.
        try (VirtualMachine vm = VirtualMachine.restore(state, mem, new GuestRunTest.Console())) {
            assertEquals(VirtualMachine.State.CREATED, vm.state());
        }
    }

    @Test
    void aSnapshotNeedsAPausedVmAndADiffNeedsTracking() throws Exception {
        try (VirtualMachine vm = VirtualMachine.create(counterGuest(), new GuestRunTest.Console())) {
            vm.start();
            ConfigException running = assertThrows(ConfigException.class,
                    () -> vm.snapshot(dir.resolve("s"), dir.resolve("m"), VmSnapshot.Type.FULL));
            assertEquals("a snapshot needs a paused VM; this one is running", running.getMessage());
            vm.pause();
            ConfigException diff = assertThrows(ConfigException.class,
                    () -> vm.snapshot(dir.resolve("s"), dir.resolve("m"), VmSnapshot.Type.DIFF));
            assertTrue(diff.getMessage().startsWith("a diff snapshot needs dirty page tracking"), diff.getMessage());
            assertTrue(Files.notExists(dir.resolve("s")) && Files.notExists(dir.resolve("m")));
        }
    }

    @Test
    void aGuestWithADriveAndEntropyRestoresOnItsOwnDiskCopyAndAMissingDiskIsOneLine() throws Exception {
        Path disk = dir.resolve("disk.img");
        Files.write(disk, new byte[1 << 20]);
        VmConfig config = VmConfig.builder().kernel(TestGuests.get("counter.bin")).entry(EntryMode.LONG).memory("32M")
                .debugExit(true).drive(new DriveConfig("data", disk, false)).entropy(true).build();
        Path state = dir.resolve("dev.state");
        Path mem = dir.resolve("dev.mem");
        long saved;
        try (VirtualMachine vm = VirtualMachine.create(config, new GuestRunTest.Console())) {
            vm.start();
            runTo(vm, 100);
            vm.snapshot(state, mem, VmSnapshot.Type.FULL);
            saved = vm.memory().readLong(COUNTER);
        }
        VmSnapshot s = vessel.vmm.snapshot.SnapshotFile.read(state);
        assertEquals(java.util.List.of("COM1", "i8042", "rtc", "pci-config-io", "virtio-blk data device", "virtio-blk data",
                "virtio-rng device", "virtio-rng"), s.deviceNames());
        assertEquals(disk.toAbsolutePath().toString(), s.machine().devices().drives().getFirst().path());

        Path copy = dir.resolve("clone.img");
        Files.copy(disk, copy);
        Files.move(disk, dir.resolve("gone.img"));
        ConfigException e = assertThrows(ConfigException.class,
                () -> VirtualMachine.restore(state, mem, new GuestRunTest.Console()));
        assertEquals("drive 'data': " + disk.toAbsolutePath() + " does not exist", e.getMessage());
        e = assertThrows(ConfigException.class, () -> VirtualMachine.restore(state, mem, new GuestRunTest.Console(),
                RestoreOverrides.NONE.withTap("eth0", "tap9")));
        assertEquals("network override for iface 'eth0': the snapshot has no such network interface []", e.getMessage());

        try (VirtualMachine vm = VirtualMachine.restore(state, mem, new GuestRunTest.Console(),
                RestoreOverrides.NONE.withDrive("data", copy))) {
            vm.start();
            runTo(vm, saved + 100);
        }
    }

    @Test
    void aGuestWithTheMmdsOnATapRestoresWithItsConfigurationOnTheGivenStoreAndNoData() throws Exception {
        NetNamespace ns = NetNamespace.withTap("vtap0", null);
        try (ns) {
            MmdsStore store = new MmdsStore(MmdsStore.DEFAULT_SIZE_LIMIT);
            store.version(MmdsStore.Version.V2);
            store.ipv4Address(0xA9FE_0A0B); // 169.254.10.11
            store.put(vessel.json.JsonValue.parse("{\"k\": \"v\"}"));
            VmConfig config = VmConfig.builder().kernel(TestGuests.get("counter.bin")).entry(EntryMode.LONG)
                    .memory("32M").debugExit(true).net(new NetConfig("eth0", "vtap0", "52:54:00:0a:0b:0c",
                            RateLimiter.Config.NONE, RateLimiter.Config.NONE, store)).build();
            Path state = dir.resolve("mmds.state");
            Path mem = dir.resolve("mmds.mem");
            long saved;
            try (VirtualMachine vm = ns.run(() -> VirtualMachine.create(config, new GuestRunTest.Console()))) {
                vm.start();
                runTo(vm, 100);
                vm.snapshot(state, mem, VmSnapshot.Type.FULL); // refused before MMDS configurations were kept
                saved = vm.memory().readLong(COUNTER);
            }
            assertEquals(java.util.List.of(new VmSnapshot.Mmds(MmdsStore.Version.V2, 0xA9FE_0A0B, false,
                    java.util.List.of("eth0"))), vessel.vmm.snapshot.SnapshotFile.read(state).machine().devices().mmds());

            MmdsStore api = new MmdsStore(MmdsStore.DEFAULT_SIZE_LIMIT);
            try (VirtualMachine vm = ns.run(() -> VirtualMachine.restore(state, mem, new GuestRunTest.Console(),
                    RestoreOverrides.NONE.withMmds(api)))) {
                assertSame(api, vm.config().net().getFirst().mmds());
                assertEquals(MmdsStore.Version.V2, api.version());
                assertEquals(0xA9FE_0A0B, api.ipv4Address());
                assertEquals("{}", api.json(), "the data store is not in the snapshot");
                vm.start();
                runTo(vm, saved + 100);
            }
        }
    }
}
