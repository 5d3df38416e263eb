import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import vessel.boot.EntryMode;
import vessel.memory.MemoryBacking;
import vessel.memory.MemoryBacking.HugePages;
import vessel.vmm.VirtualMachine;
import vessel.vmm.VmConfig;

/**
 * Dedicated-resources benchmark, Java side (run by bench/dedicated/run.sh): guests/fill.S touches every
 * 4 KiB page of its RAM above 1 MiB once, with the same contents in every VM of a size.
 *
 * <p>{@code huge MIB}: one VM of MIB MiB per backing (4 KiB pages, transparent huge pages, hugetlbfs 2 MiB
 * pages), each in turn: the guest's time from its "fill" line to its "filled" line (every page's first
 * touch: a host page fault and KVM's mapping of it, 512 times fewer of both with 2 MiB pages), and the
 * huge pages backing it afterwards (smaps_rollup's AnonHugePages, /proc/meminfo's HugePages_Free).
 *
 * <p>{@code ksm N MIB}: N such VMs at once, without and then with MADV_MERGEABLE: this process's pages KSM
 * merged ({@code /proc/self/ksm_stat}'s merging pages) and the frames they now share (ksmd's host-wide
 * pages_shared, before and after), hence the host memory per VM, read once the merged count stops growing over two of
 * ksmd's full scans (or after 180 s). The run script starts ksmd and puts it back.
 */
public class Dedicated {
    private static final Path KSM = Path.of("/sys/kernel/mm/ksm");

    /** A VM running fill.bin and when its console said "fill" and "filled". */
    record FillingVm(VirtualMachine vm, CountDownLatch filled, long[] lineNanos) implements AutoCloseable {
        long fillMillis() {
            return (lineNanos[1] - lineNanos[0]) / 1_000_000;
        }

        @Override
        public void close() {
            vm.close();
        }
    }

    static FillingVm start(Path guest, long mib, MemoryBacking backing) throws Exception {
        CountDownLatch filled = new CountDownLatch(1);
        long[] lineNanos = new long[2];
        OutputStream console = new OutputStream() {
            private final StringBuilder line = new StringBuilder();

            @Override
            public void write(int b) {
                if (b != '\n') {
                    if (line.length() < 80) {
                        line.append((char) b);
                    }
                    return;
                }
                long now = System.nanoTime();
                if (line.toString().equals("fill")) {
                    lineNanos[0] = now;
                } else if (line.toString().equals("filled")) {
                    lineNanos[1] = now;
                    filled.countDown();
                }
                line.setLength(0);
            }
        };
        VmConfig config = VmConfig.builder().kernel(guest).entry(EntryMode.PROTECTED).memory(mib << 20)
                .memoryBacking(backing).build();
        VirtualMachine vm = VirtualMachine.create(config, console);
        vm.start();
        return new FillingVm(vm, filled, lineNanos);
    }

    static void await(FillingVm f, int seconds) throws InterruptedException {
        if (!f.filled().await(seconds, TimeUnit.SECONDS)) {
            throw new IllegalStateException("a fill guest did not say \"filled\" in " + seconds + " s");
        }
    }

    /** A "Name: N kB" field of a /proc file, in KiB. */
    static long procKib(Path file, String field) throws IOException {
        for (String line : Files.readAllLines(file)) {
            if (line.startsWith(field + ":")) {
                return Long.parseLong(line.substring(field.length() + 1).replaceAll("[^0-9]", ""));
            }
        }
        return 0;
    }

    static long ksm(String name) throws IOException {
        return Long.parseLong(Files.readString(KSM.resolve(name)).strip());
    }

    static void huge(Path guest, long mib) throws Exception {
        for (HugePages pages : HugePages.values()) {
            long freeBefore = procKib(Path.of("/proc/meminfo"), "HugePages_Free");
            long anonBefore = procKib(Path.of("/proc/self/smaps_rollup"), "AnonHugePages");
            FillingVm f;
            try {
                f = start(guest, mib, new MemoryBacking(pages, false));
            } catch (Exception e) {
                System.out.printf("dedicated huge_pages=%s not measured: %s%n", pages.apiName(), e.getMessage());
                continue;
            }
            try (f) {
                await(f, 600);
                long anon = procKib(Path.of("/proc/self/smaps_rollup"), "AnonHugePages") - anonBefore;
                long hugetlb = (freeBefore - procKib(Path.of("/proc/meminfo"), "HugePages_Free")) * 2048;
                System.out.printf("dedicated huge_pages=%s guest_mib=%d fill_ms=%d thp_mib=%d hugetlb_mib=%d%n",
                        pages.apiName(), mib, f.fillMillis(), anon >> 10, hugetlb >> 10);
            }
        }
    }

    /** A field of this process's /proc/self/ksm_stat. */
    static long ksmStat(String field) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/ksm_stat"))) {
            if (line.startsWith(field + " ")) {
                return Long.parseLong(line.substring(field.length() + 1).strip());
            }
        }
        return 0;
    }

    static void merge(Path guest, int count, long mib, boolean mergeable) throws Exception {
        List<FillingVm> vms = new ArrayList<>();
        long framesBefore = ksm("pages_shared");
        try {
            for (int i = 0; i < count; i++) {
                vms.add(start(guest, mib, new MemoryBacking(HugePages.NONE, mergeable)));
            }
            for (FillingVm f : vms) {
                await(f, 600);
            }
            // ksmd merges a page once it has seen it unchanged in two scans: wait until this process's
            // merged pages stop growing over two full scans (other processes' pages, a nested QEMU's for
            // one, make a scan longer but are not counted here).
            long t0 = System.nanoTime();
            long deadline = t0 + TimeUnit.SECONDS.toNanos(180);
            long merged = -1;
            while (System.nanoTime() < deadline) {
                long scans = ksm("full_scans");
                while (ksm("full_scans") < scans + 2 && System.nanoTime() < deadline) {
                    Thread.sleep(100);
                }
                long now = ksmStat("ksm_merging_pages");
                if (now == merged) {
                    break;
                }
                merged = now;
            }
            double touchedMib = count * (mib - 1);
            double mergedMib = ksmStat("ksm_merging_pages") * 4096 / 1048576.0;
            // The frames the merged pages now share: ksmd's count is host-wide, so another process merging
            // at the same time (QEMU offers its guests' RAM by default) adds to it.
            double framesMib = Math.max(0, ksm("pages_shared") - framesBefore) * 4096 / 1048576.0;
            System.out.printf("dedicated ksm=%s vms=%d guest_mib=%d touched_mib=%.0f merged_mib=%.1f ksm_frames_mib=%.1f "
                    + "host_mib_per_vm=%.1f waited_s=%d%n", mergeable ? "on" : "off", count, mib, touchedMib,
                    mergedMib, framesMib, (touchedMib - mergedMib + framesMib) / count,
                    (System.nanoTime() - t0) / 1_000_000_000L);
        } finally {
            for (FillingVm f : vms) {
                f.close();
            }
        }
    }

    public static void main(String[] args) throws Exception {
        String reason = vessel.kvm.Kvm.unavailableReason();
        if (reason != null) {
            System.out.println("dedicated skipped: " + reason);
            return;
        }
        Path guest = Path.of(args[0]);
        switch (args[1]) {
            case "huge" -> huge(guest, Long.parseLong(args[2]));
            case "ksm" -> {
                merge(guest, Integer.parseInt(args[2]), Long.parseLong(args[3]), false);
                merge(guest, Integer.parseInt(args[2]), Long.parseLong(args[3]), true);
            }
            default -> throw new IllegalArgumentException("huge MIB | ksm N MIB");
        }
    }
}
