import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.Locale;

import vessel.boot.EntryMode;
import vessel.kvm.ExitReason;
import vessel.vmm.VirtualMachine;
import vessel.vmm.VmConfig;
import vessel.vmm.VmExit;

/**
 * Exit-rate benchmark, Java side: runs bench-out.bin (1,000,000 `out` to an unclaimed port, then the
 * debug-exit port) through the full Vessel path (vCPU loop, bus dispatch, unclaimed-port handling) and
 * prints exits per second and the vCPU thread's allocation per exit. Run by bench/exits/run.sh.
 */
public class ExitRate {
    public static void main(String[] args) throws Exception {
        Path guest = Path.of(args[0]);
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        String reason = vessel.kvm.Kvm.unavailableReason();
        if (reason != null) {
            System.out.println("java skipped: " + reason);
            return;
        }
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        double best = 0;
        for (int round = 0; round < rounds; round++) {
            VmConfig config = VmConfig.builder().kernel(guest).entry(EntryMode.REAL).memory("16M").debugExit(true).build();
            try (VirtualMachine vm = VirtualMachine.create(config, System.out)) {
                long t0 = System.nanoTime();
                vm.start();
                Thread vcpu = Thread.getAllStackTraces().keySet().stream()
                        .filter(t -> t.getName().equals("vcpu-0")).findFirst().orElseThrow();
                long alloc0 = threads.getThreadAllocatedBytes(vcpu.threadId());
                VmExit exit = vm.awaitExit();
                double seconds = (System.nanoTime() - t0) / 1e9;
                long alloc1 = threads.getThreadAllocatedBytes(vcpu.threadId());
                long exits = vm.exitCounts()[ExitReason.IO];
                if (exit.status() != 1) {
                    System.out.printf(Locale.ROOT, "java round=%d FAILED: guest ended unexpectedly after %d exits: %s%n",
                            round, exits, exit);
                    continue;
                }
                double rate = exits / seconds;
                best = Math.max(best, rate);
                System.out.printf(Locale.ROOT, "java round=%d exits=%d seconds=%.3f exits_per_sec=%.0f alloc_bytes_per_exit=%.3f%n",
                        round, exits, seconds, rate, alloc1 < 0 ? -1.0 : (alloc1 - alloc0) / (double) exits);
            }
        }
        System.out.printf(Locale.ROOT, "java best exits_per_sec=%.0f%n", best);
    }
}
