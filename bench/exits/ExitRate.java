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
 * prints exits per second and, per exit, the vCPU thread's user-space and kernel CPU time, the guest
 * time within the user time, and its allocation. Run by bench/exits/run.sh.
 *
 * The per-exit figures are taken over a window from the 10%th to the 90%th exit, while the vCPU thread
 * is certainly alive (it ends with the guest, and a thread's counters go with it) and past its first,
 * interpreted exits in the first round. The kernel accounts user time at its tick, so it is a sample:
 * good over many exits, not over a few.
 */
public class ExitRate {
    private static final long EXITS = 1_000_000;

    /** The vCPU thread's counters at one moment, with the exits seen by then. */
    record Sample(long exits, long userNs, long cpuNs, long allocBytes, long guestNs) {
        static Sample take(com.sun.management.ThreadMXBean threads, long tid, Path osStat, VirtualMachine vm) {
            long user = threads.getThreadUserTime(tid);
            long cpu = threads.getThreadCpuTime(tid);
            long alloc = threads.getThreadAllocatedBytes(tid);
            return new Sample(vm.exitCounts()[ExitReason.IO], user, cpu, alloc, guestTimeNs(osStat));
        }

        boolean valid() {
            return userNs >= 0 && cpuNs >= 0 && allocBytes >= 0 && guestNs >= 0;
        }
    }

    /** Linux's tick length for /proc's times (USER_HZ, 100 on every Linux this runs on). */
    private static final long TICK_NS = 10_000_000;

    /**
     * The thread's guest time from its /proc stat (the 43rd field, in ticks), or -1. Linux counts guest
     * time as user time too, so user minus guest is the VMM's own user-space work: on a host whose guest
     * entry and exit are done in software (kvm_pvm), part of their cost lands in guest time.
     */
    static long guestTimeNs(Path osStat) {
        try {
            String stat = java.nio.file.Files.readString(osStat);
            String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return Long.parseLong(fields[43 - 3]) * TICK_NS;
        } catch (java.io.IOException | RuntimeException e) {
            return -1;
        }
    }

    /** /proc/self/task/TID/stat of the thread named {@code name}, or null. */
    static Path osStatOf(String name) throws java.io.IOException {
        try (var tasks = java.nio.file.Files.list(Path.of("/proc/self/task"))) {
            for (Path task : (Iterable<Path>) tasks::iterator) {
                try {
                    if (java.nio.file.Files.readString(task.resolve("comm")).strip().equals(name)) {
                        return task.resolve("stat");
                    }
                } catch (java.io.IOException e) {
                    // the thread ended meanwhile
                }
            }
        }
        return null;
    }

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
        double bestUserNs = Double.NaN;
        for (int round = 0; round < rounds; round++) {
            VmConfig config = VmConfig.builder().kernel(guest).entry(EntryMode.REAL).memory("16M").debugExit(true).build();
            try (VirtualMachine vm = VirtualMachine.create(config, System.out)) {
                long t0 = System.nanoTime();
                vm.start();
                long tid = Thread.getAllStackTraces().keySet().stream()
                        .filter(t -> t.getName().equals("vcpu-0")).findFirst().orElseThrow().threadId();
                Path osStat = osStatOf("vcpu-0");
                Sample from = waitFor(threads, tid, osStat, vm, EXITS / 10);
                Sample to = waitFor(threads, tid, osStat, vm, EXITS * 9 / 10);
                VmExit exit = vm.awaitExit();
                double seconds = (System.nanoTime() - t0) / 1e9;
                long exits = vm.exitCounts()[ExitReason.IO];
                if (exit.status() != 1) {
                    System.out.printf(Locale.ROOT, "java round=%d FAILED: guest ended unexpectedly after %d exits: %s%n",
                            round, exits, exit);
                    continue;
                }
                double rate = exits / seconds;
                best = Math.max(best, rate);
                String perExit = "per_exit=unmeasured (the vCPU thread ended before the window closed)";
                if (from != null && to != null && from.valid() && to.valid() && to.exits() > from.exits()) {
                    double n = to.exits() - from.exits();
                    double userNs = (to.userNs() - from.userNs()) / n;
                    double sysNs = ((to.cpuNs() - to.userNs()) - (from.cpuNs() - from.userNs())) / n;
                    double guestNs = (to.guestNs() - from.guestNs()) / n;
                    bestUserNs = Double.isNaN(bestUserNs) ? userNs : Math.min(bestUserNs, userNs);
                    perExit = String.format(Locale.ROOT, "user_ns_per_exit=%.0f sys_ns_per_exit=%.0f guest_ns_per_exit=%.0f"
                                    + " vmm_user_ns_per_exit=%.0f alloc_bytes_per_exit=%.3f",
                            userNs, sysNs, guestNs, userNs - guestNs, (to.allocBytes() - from.allocBytes()) / n);
                }
                System.out.printf(Locale.ROOT, "java round=%d exits=%d seconds=%.3f exits_per_sec=%.0f %s%n",
                        round, exits, seconds, rate, perExit);
            }
        }
        System.out.printf(Locale.ROOT, "java best exits_per_sec=%.0f user_ns_per_exit=%.0f%n", best, bestUserNs);
    }

    /** Polls until the guest has made {@code exits} exits; null if the VM ended first. */
    private static Sample waitFor(com.sun.management.ThreadMXBean threads, long tid, Path osStat, VirtualMachine vm, long exits)
            throws InterruptedException {
        while (vm.awaitExit(5) == null) {
            if (vm.exitCounts()[ExitReason.IO] >= exits) {
                return Sample.take(threads, tid, osStat, vm);
            }
        }
        return null;
    }
}
