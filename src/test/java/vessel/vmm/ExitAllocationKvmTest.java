package vessel.vmm;

import java.lang.management.ManagementFactory;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import vessel.boot.EntryMode;
import vessel.kvm.ExitReason;
import vessel.testkit.RequiresKvm;
import vessel.testkit.TestGuests;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The vCPU loop allocates nothing per exit (issue 15's acceptance): bench-out.bin's port writes, each a
 * full trip through KVM_RUN, the exit dispatch and the port bus, counted by the vCPU thread's own
 * allocated-bytes counter over a window of exits, after the JIT has compiled the loop.
 */
@vessel.testkit.KvmTest
@Timeout(300)
class ExitAllocationKvmTest {
    /** Exits before the window opens: past the interpreter and the JIT's first tiers. */
    private static final long WARM_UP = 150_000;
    private static final long WINDOW = 100_000;

    @BeforeEach
    void kvm() {
        RequiresKvm.assumeKvm();
    }

    @Test
    void aPortIoExitAllocatesNothing() throws Exception {
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        VmConfig config = VmConfig.builder().kernel(TestGuests.get("bench-out.bin")).entry(EntryMode.REAL)
                .memory("16M").debugExit(true).build();
        try (VirtualMachine vm = VirtualMachine.create(config, System.out)) {
            vm.start();
            long tid = Thread.getAllStackTraces().keySet().stream()
                    .filter(t -> t.getName().equals("vcpu-0")).findFirst().orElseThrow().threadId();
            awaitExits(vm, WARM_UP);
            long fromBytes = threads.getThreadAllocatedBytes(tid);
            long fromExits = vm.exitCounts()[ExitReason.IO];
            awaitExits(vm, fromExits + WINDOW);
            long bytes = threads.getThreadAllocatedBytes(tid) - fromBytes;
            long exits = vm.exitCounts()[ExitReason.IO] - fromExits;
            assertTrue(fromBytes >= 0 && bytes >= 0, "the vCPU thread ended inside the window");
            // Zero per exit; a few hundred bytes in all leave room for a one-off event on the thread
            // (a deoptimization's bookkeeping), never for a per-exit allocation (8 bytes or more each).
            assertTrue(bytes < 1024, bytes + " bytes allocated over " + exits + " port-I/O exits ("
                    + (double) bytes / exits + " per exit)");
            vm.stop();
        }
    }

    private static void awaitExits(VirtualMachine vm, long atLeast) throws InterruptedException {
        long deadline = System.nanoTime() + 240_000_000_000L;
        while (vm.exitCounts()[ExitReason.IO] < atLeast) {
            assertTrue(vm.awaitExit(1) == null, "the guest ended after " + vm.exitCounts()[ExitReason.IO] + " exits");
            assertTrue(System.nanoTime() < deadline, "exits stuck at " + vm.exitCounts()[ExitReason.IO]);
        }
    }
}
