package vessel.vmm.control;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import vessel.json.JsonValue;

import vessel.devices.DeviceMetrics;
import vessel.devices.RateLimiter;
import vessel.devices.TokenBucket;
import vessel.vmm.ConfigException;
import vessel.vmm.RestoreOverrides;
import vessel.vmm.VirtualMachine;
import vessel.vmm.VmConfig;
import vessel.vmm.snapshot.VmSnapshot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The controller alone, driven by action records: no HTTP, no JSON model, no KVM (a recording fake VM). */
class VmmControllerTest {
    /** Records what the controller asked of the VM, in order. */
    static final class RecordingVm implements RunningVm {
        final List<String> calls = new ArrayList<>();

        @Override
        public void pause() {
            calls.add("pause");
        }

        @Override
        public void resume() {
            calls.add("resume");
        }

        @Override
        public void sendCtrlAltDel() {
            calls.add("ctrl-alt-del");
        }

        @Override
        public long[] exitCounts() {
            return new long[] {7};
        }

        @Override
        public List<DeviceMetrics> deviceMetrics() {
            return List.of();
        }

        @Override
        public void replaceDrive(String id, Path image) throws ConfigException {
            if (!id.equals("rootfs")) {
                throw new ConfigException("no drive with id " + id);
            }
            calls.add("replace " + id + " " + image);
        }

        @Override
        public void updateDriveRateLimiter(String id, TokenBucket.Config bandwidth, TokenBucket.Config ops) {
            calls.add("drive limiter " + id);
        }

        @Override
        public void updateNetRateLimiters(String id, RateLimiter.Config rx, RateLimiter.Config tx) {
            calls.add("net limiters " + id);
        }

        @Override
        public void snapshot(Path state, Path memory, VmSnapshot.Type type) {
            calls.add("snapshot " + type + " " + state + " " + memory);
        }

        @Override
        public VirtualMachine machine() {
            return null;
        }
    }

    private final RecordingVm vm = new RecordingVm();
    private final List<VmConfig> booted = new ArrayList<>();
    private final List<String> restored = new ArrayList<>();
    private final List<RestoreOverrides> restoredWith = new ArrayList<>();
    private final VmmController controller = new VmmController(config -> {
        booted.add(config);
        return vm;
    }, (state, memory, paused, track, overrides) -> {
        restored.add(state + " " + memory + " paused=" + paused + " track=" + track);
        restoredWith.add(overrides);
        return vm;
    }, 64);

    private static VmConfig config() throws ConfigException {
        return VmConfig.builder().kernel(Path.of("/")).memory(16L << 20).cpus(1).build();
    }

    private Lifecycle.State state() throws VmmActionException {
        return ((VmmData.Instance) controller.handle(new VmmAction.GetInstanceState())).state();
    }

    private VmmActionException refused(VmmAction action) {
        return assertThrows(VmmActionException.class, () -> controller.handle(action), action.toString());
    }

    @Test
    void bootThenPauseSnapshotResumeInThatOrder() throws Exception {
        assertEquals(Lifecycle.State.NOT_STARTED, state());
        assertEquals(Lifecycle.NOT_SUPPORTED_PRE_BOOT, refused(new VmmAction.Pause()).getMessage());
        assertNull(((VmmData.Counters) controller.handle(new VmmAction.GetCounters())).exitCounts(),
                "no exit counts before boot");

        controller.handle(new VmmAction.StartMicroVm(config(), false));
        assertEquals(1, booted.size());
        assertEquals(Lifecycle.State.RUNNING, state());
        assertEquals(Lifecycle.NOT_SUPPORTED_POST_BOOT,
                refused(new VmmAction.StartMicroVm(config(), false)).getMessage());
        assertEquals(Lifecycle.NOT_SUPPORTED_POST_BOOT, refused(new VmmAction.Admit(Lifecycle.Operation.CONFIGURE))
                .getMessage());

        VmmAction.CreateSnapshot snapshot = new VmmAction.CreateSnapshot(Path.of("s"), Path.of("m"),
                VmSnapshot.Type.FULL);
        assertTrue(refused(snapshot).getMessage().startsWith("Create snapshot error: the microVM must be paused"));
        controller.handle(new VmmAction.Pause());
        assertEquals(Lifecycle.State.PAUSED, state());
        controller.handle(snapshot);
        controller.handle(new VmmAction.Resume());
        controller.handle(new VmmAction.SendCtrlAltDel());
        assertEquals(List.of("pause", "snapshot FULL s m", "resume", "ctrl-alt-del"), vm.calls);
        assertEquals(7, ((VmmData.Counters) controller.handle(new VmmAction.FlushMetrics())).exitCounts()[0]);
        assertEquals(null, controller.awaitStart(), "the fake has no VirtualMachine behind it");
    }

    @Test
    void deviceUpdatesReachTheVmAndItsRefusalsAreOneLine() throws Exception {
        VmmAction.UpdateBlockDeviceImage swap = new VmmAction.UpdateBlockDeviceImage("rootfs", Path.of("/b.img"));
        assertEquals(Lifecycle.NOT_SUPPORTED_PRE_BOOT, refused(swap).getMessage());
        controller.handle(new VmmAction.StartMicroVm(config(), false));
        controller.handle(swap);
        assertEquals("Drive config error: cannot switch drive data to /c.img: no drive with id data",
                refused(new VmmAction.UpdateBlockDeviceImage("data", Path.of("/c.img"))).getMessage());
        assertEquals("Balloon update error: No balloon device found.",
                refused(new VmmAction.UpdateBalloon(1, 16)).getMessage());
        assertEquals("Memory hotplug update error: No memory hotplug device found.",
                refused(new VmmAction.UpdateMemoryHotplug(1)).getMessage());
        assertNull(((VmmData.MemoryHotplug) controller.handle(new VmmAction.GetMemoryHotplug())).status());
        assertEquals(List.of("replace rootfs /b.img"), vm.calls);
    }

    @Test
    void aSnapshotLoadsOnlyBeforeBootAndComesBackPausedUnlessResumed() throws Exception {
        VmmAction.LoadSnapshot load = new VmmAction.LoadSnapshot(Path.of("s"), Path.of("m"), false, true,
                RestoreOverrides.NONE.withTap("eth0", "tap3"));
        controller.handle(load);
        assertEquals(List.of("s m paused=true track=true"), restored);
        // A restored MMDS answers from the controller's own store: PUT /mmds after the load fills it.
        assertSame(controller.mmds(), restoredWith.getFirst().mmds());
        assertEquals(java.util.Map.of("eth0", "tap3"), restoredWith.getFirst().taps());
        assertEquals(Lifecycle.State.PAUSED, state());
        assertEquals(Lifecycle.NOT_SUPPORTED_POST_BOOT, refused(load).getMessage());
        assertTrue(booted.isEmpty());
    }

    @Test
    void theMmdsDocumentIsKeptInEveryPhaseAndItsLimitIs413() throws Exception {
        controller.handle(new VmmAction.PutMmds(JsonValue.parse("{\"a\": 1}")));
        controller.handle(new VmmAction.PatchMmds(JsonValue.parse("{\"b\": \"x\"}")));
        assertEquals(JsonValue.parse("{\"a\": 1, \"b\": \"x\"}"),
                JsonValue.parse(((VmmData.MmdsDocument) controller.handle(new VmmAction.GetMmds())).json()));
        VmmActionException tooBig = refused(new VmmAction.PutMmds(JsonValue.parse("{\"a\": \"" + "x".repeat(100) + "\"}")));
        assertEquals(413, tooBig.status());
        assertTrue(tooBig.getMessage().startsWith("MMDS limit exceeded error: "), tooBig.getMessage());
        controller.handle(new VmmAction.StartMicroVm(config(), false));
        controller.handle(new VmmAction.PatchMmds(JsonValue.parse("{\"c\": true}")));
        assertEquals(Lifecycle.NOT_SUPPORTED_POST_BOOT, refused(new VmmAction.ConfigureMmds(
                vessel.devices.mmds.MmdsStore.Version.V2, 0xA9FEA9FE, false)).getMessage());
    }

    @Test
    void aBootThatFailsLeavesTheMicroVmNotStartedAndSaysWhy() throws Exception {
        VmmController failing = new VmmController(config -> {
            throw new ConfigException("the kernel file is gone");
        }, (s, m, p, t, o) -> {
            throw new java.io.IOException("no KVM");
        }, 64);
        VmmActionException e = assertThrows(VmmActionException.class,
                () -> failing.handle(new VmmAction.StartMicroVm(config(), false)));
        assertEquals("Start microvm error: the kernel file is gone", e.getMessage());
        assertEquals(false, e.hostFailure());
        VmmActionException host = assertThrows(VmmActionException.class, () -> failing.handle(
                new VmmAction.LoadSnapshot(Path.of("s"), Path.of("m"), true, false, RestoreOverrides.NONE)));
        assertEquals("Load snapshot error: no KVM", host.getMessage());
        assertTrue(host.hostFailure());
        assertEquals(Lifecycle.State.NOT_STARTED,
                ((VmmData.Instance) failing.handle(new VmmAction.GetInstanceState())).state());
    }
}
