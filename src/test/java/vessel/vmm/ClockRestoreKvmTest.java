package vessel.vmm;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import vessel.boot.EntryMode;
import vessel.kvm.MsrEntry;
import vessel.testkit.NativeTools;
import vessel.testkit.RequiresKvm;
import vessel.testkit.TestGuests;
import vessel.vmm.snapshot.SnapshotFile;
import vessel.vmm.snapshot.VmSnapshot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A restored guest's clocks go on from where they were, on the real /dev/kvm, with guests/clock.S: it
 * reads the TSC and kvmclock without end and counts every read earlier than the one before. Its clocks
 * run a few seconds before the snapshot, so a clock that restarted near 0 on restore (kvmclock without
 * KVM_SET_CLOCK, a TSC put back at its reset value) would be seconds behind: a Linux guest's kvmclock
 * would then stand still until it caught up (its pvclock never returns less than its last value), and
 * every timer with it. Where the host's TSC is unstable (the nested-KVM VM: no PVCLOCK_TSC_STABLE_BIT)
 * kvmclock steps back by a few milliseconds now and then without any restore, which Linux absorbs; a
 * step of a second or more is a restart.
 */
@vessel.testkit.KvmTest
@Timeout(180)
class ClockRestoreKvmTest {
    private static final long TSC_NOW = 0x20000;
    private static final long CLOCK_NOW = 0x20008;
    private static final long PASSES = 0x20010;
    private static final long TSC_BACK = 0x20018;
    private static final long CLOCK_BACK = 0x20020;
    private static final long CLOCK_BACK_BY = 0x20028;

    private Path dir;

    @BeforeEach
    void setUp() throws Exception {
        RequiresKvm.assumeKvm();
        dir = Files.createTempDirectory(Files.createDirectories(NativeTools.projectDir().resolve("target/scratch")), "clock");
    }

    /** The guest's clocks as it last stored them. */
    private record Clocks(long tsc, long clockNanos, long passes, long tscBack, long clockBack, long clockBackBy) {
        static Clocks of(VirtualMachine vm) {
            var m = vm.memory();
            return new Clocks(m.readLong(TSC_NOW), m.readLong(CLOCK_NOW), m.readLong(PASSES), m.readLong(TSC_BACK),
                    m.readLong(CLOCK_BACK), m.readLong(CLOCK_BACK_BY));
        }
    }

    /** Lets the guest run until it has made {@code passes} more passes and its kvmclock reads at least {@code nanos}. */
    private static Clocks runUntil(VirtualMachine vm, long passes, long nanos) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        long from = vm.memory().readLong(PASSES);
        while (true) {
            Clocks c = Clocks.of(vm);
            if (c.passes() >= from + passes && c.clockNanos() >= nanos) {
                return c;
            }
            assertTrue(System.nanoTime() < deadline, "the guest did not get on: " + c);
            Thread.sleep(10);
        }
    }

    @Test
    void aRestoredGuestsTscAndKvmclockGoOnFromWhereTheyWereNotFromZero() throws Exception {
        Path state = dir.resolve("clock.state");
        Path mem = dir.resolve("clock.mem");
        Clocks saved;
        try (VirtualMachine vm = VirtualMachine.create(VmConfig.builder().kernel(TestGuests.get("clock.bin"))
                .entry(EntryMode.LONG).memory("32M").build(), new GuestRunTest.Console())) {
            vm.start();
            Clocks first = runUntil(vm, 100, 1);
            runUntil(vm, 100, first.clockNanos() + 3_000_000_000L); // three seconds of guest time
            vm.pause();
            saved = Clocks.of(vm);
            vm.snapshot(state, mem, VmSnapshot.Type.FULL);
        }
        // Where the host's TSC is unstable (the nested VM), kvmclock steps back a few ms now and then even
        // without a restore; Linux's pvclock absorbs those.
        System.out.println("before the snapshot: " + saved);
        VmSnapshot snap = SnapshotFile.read(state);
        VmSnapshot.VcpuState v = snap.vcpus().get(0);
        long savedTscMsr = -1;
        for (int i = 0; i < v.msrIndices().length; i++) {
            if (v.msrIndices()[i] == MsrEntry.IA32_TSC) {
                savedTscMsr = v.msrValues()[i];
            }
        }
        System.out.printf("at the snapshot: guest TSC %d (saved MSR %d), kvmclock %d ns (saved KVM_GET_CLOCK %d ns)%n",
                saved.tsc(), savedTscMsr, saved.clockNanos(), snap.vm().clockNanos());
        java.util.List<Clocks> results = new java.util.ArrayList<>();
        for (int restore = 1; restore <= 2; restore++) {
            try (VirtualMachine vm = VirtualMachine.restore(state, mem, new GuestRunTest.Console())) {
                // Only what the restored guest reads counts: its last reads before the snapshot stay in R13/R14.
                for (long a : new long[] {TSC_BACK, CLOCK_BACK, CLOCK_BACK_BY}) {
                    vm.memory().writeLong(a, 0);
                }
                vm.start();
                Clocks after = runUntil(vm, 200, 0);
                var m = vm.memory();
                System.out.printf("restore %d: guest TSC %d (%+d), kvmclock %d ns (%+d), reads behind the one before:"
                        + " TSC %d, kvmclock %d (by up to %d ns); pvclock flags 0x%x%n", restore, after.tsc(),
                        after.tsc() - saved.tsc(), after.clockNanos(), after.clockNanos() - saved.clockNanos(),
                        after.tscBack(), after.clockBack(), after.clockBackBy(), m.readByte(0x2101d));
                results.add(after);
            }
        }
        for (int i = 0; i < results.size(); i++) {
            Clocks after = results.get(i);
            assertTrue(after.clockBackBy() < 1_000_000_000L, "restore " + (i + 1) + ": kvmclock restarted "
                    + after.clockBackBy() + " ns behind its saved reading: " + after);
            assertEquals(0, after.tscBack(), "restore " + (i + 1) + ": the TSC went back: " + after);
        }
    }
}
