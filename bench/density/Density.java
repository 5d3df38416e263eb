import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import vessel.boot.EntryMode;
import vessel.memory.GuestMemory;
import vessel.memory.MemoryRegion;
import vessel.vmm.VirtualMachine;
import vessel.vmm.VmConfig;

/**
 * Density benchmark, Java side: N small VMs in this one JVM through the Java API, each running
 * guests/idle.S (prints "idle ready", then halts with interrupts off, so it costs no CPU), and what they
 * cost in resident memory: the process's whole RSS from /proc/self/smaps_rollup, and within it each
 * guest's RAM actually resident, by mincore(2) over its mappings (the kernel merges neighbouring anonymous
 * mappings, so smaps cannot tell them apart; the mappings are read from the VM by reflection, as the Java
 * API does not hand out guest memory). Per VM: (RSS with N VMs - RSS with none) / N, split into guest RAM
 * resident and everything else, the VMM's overhead (threads' stacks, kvm_run pages, Java objects). Run by
 * bench/density/run.sh.
 */
public class Density {
    private static final MethodHandle MINCORE = Linker.nativeLinker().downcallHandle(
            Linker.nativeLinker().defaultLookup().find("mincore").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS));

    /** This process's resident memory (smaps_rollup's Rss) in KiB. */
    static long rssKib() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/smaps_rollup"))) {
            if (line.startsWith("Rss:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new IOException("no Rss in /proc/self/smaps_rollup");
    }

    static int threads() throws IOException {
        try (var tasks = Files.list(Path.of("/proc/self/task"))) {
            return (int) tasks.count();
        }
    }

    /** The guest's RAM pages resident now, in KiB (mincore over each of its mappings). */
    static long guestResidentKib(VirtualMachine vm) throws Throwable {
        var field = VirtualMachine.class.getDeclaredField("memory");
        field.setAccessible(true);
        GuestMemory memory = (GuestMemory) field.get(vm);
        long pages = 0;
        try (Arena arena = Arena.ofConfined()) {
            for (MemoryRegion region : memory.regions()) {
                long n = (region.size() + 4095) / 4096;
                MemorySegment vec = arena.allocate(n);
                int rc = (int) MINCORE.invokeExact(region.host(), region.size(), vec);
                if (rc != 0) {
                    throw new IOException("mincore failed");
                }
                for (long i = 0; i < n; i++) {
                    pages += vec.get(ValueLayout.JAVA_BYTE, i) & 1;
                }
            }
        }
        return pages * 4;
    }

    /** A console that counts the latch down at the guest's "ready" line. */
    static OutputStream console(CountDownLatch ready) {
        return new OutputStream() {
            private final StringBuilder line = new StringBuilder();

            @Override
            public void write(int b) {
                if (b == '\n') {
                    if (line.toString().contains("ready")) {
                        ready.countDown();
                    }
                    line.setLength(0);
                } else if (line.length() < 200) {
                    line.append((char) b);
                }
            }
        };
    }

    static VirtualMachine startOne(Path guest, long memory) throws Exception {
        CountDownLatch ready = new CountDownLatch(1);
        VmConfig config = VmConfig.builder().kernel(guest).entry(EntryMode.REAL).memory(memory).build();
        VirtualMachine vm = VirtualMachine.create(config, console(ready));
        vm.start();
        if (!ready.await(120, TimeUnit.SECONDS)) {
            vm.close();
            throw new IllegalStateException("a VM did not print its ready line in 120 s");
        }
        return vm;
    }

    static void settle() throws InterruptedException {
        System.gc();
        Thread.sleep(500);
    }

    public static void main(String[] args) throws Throwable {
        Path guest = Path.of(args[0]);
        int count = args.length > 1 ? Integer.parseInt(args[1]) : 50;
        long memory = (args.length > 2 ? Long.parseLong(args[2]) : 32) << 20;
        String reason = vessel.kvm.Kvm.unavailableReason();
        if (reason != null) {
            System.out.println("density skipped: " + reason);
            return;
        }
        // One VM started and closed first: the classes and code every VM shares are not any one VM's cost.
        startOne(guest, memory).close();
        settle();
        long rssBefore = rssKib();
        int threadsBefore = threads();
        List<VirtualMachine> vms = new ArrayList<>();
        long t0 = System.nanoTime();
        try {
            for (int i = 0; i < count; i++) {
                vms.add(startOne(guest, memory));
            }
            long startMs = (System.nanoTime() - t0) / 1_000_000;
            settle();
            long rssAfter = rssKib();
            long guestKib = 0;
            for (VirtualMachine vm : vms) {
                guestKib += guestResidentKib(vm);
            }
            double perVm = (rssAfter - rssBefore) / 1024.0 / count;
            double guestPerVm = guestKib / 1024.0 / count;
            System.out.printf("density vms=%d guest_mib=%d started_in_ms=%d (%.1f ms each) threads_per_vm=%.1f%n",
                    count, memory >> 20, startMs, (double) startMs / count, (double) (threads() - threadsBefore) / count);
            System.out.printf("density rss_before_mib=%.1f rss_after_mib=%.1f%n", rssBefore / 1024.0, rssAfter / 1024.0);
            System.out.printf("density per_vm_rss_mib=%.3f per_vm_guest_ram_resident_mib=%.3f "
                    + "per_vm_overhead_mib=%.3f (goal < 5, Firecracker's figure)%n", perVm, guestPerVm, perVm - guestPerVm);
            System.out.printf("density guest RAM resident: %.3f of %d MiB per VM (untouched pages are not)%n",
                    guestPerVm, memory >> 20);
        } finally {
            for (VirtualMachine vm : vms) {
                vm.close();
            }
        }
    }
}
