package vessel.vmm;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import vessel.testkit.Curl;
import vessel.testkit.DefaultImage;
import vessel.testkit.RequiresKvm;
import vessel.testkit.VesselProcess;
import vessel.vmm.snapshot.VmSnapshot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 14's acceptance: the default guest with its virtio devices (an ext4 drive, entropy, vsock) booted
 * to its shell, where a counter runs and a file is written to the drive and synced; then paused,
 * snapshotted, and the VM that made the snapshot ended. Two new {@code vessel} processes then restore
 * the same files in turn, each on the disk as it was at the snapshot: one through the API ({@code PUT
 * /snapshot/load}), one through {@code vessel run --restore-snapshot}. In each the shell answers within
 * a bound, a {@code sleep} returns (its timers work), the counter has gone on from where it was, the
 * shell kept its variables, the file reads back from the disk (page cache dropped, so through the
 * restored virtio-blk queue), and the guest powers off. The guest also shows the VM generation ID device
 * (QEMUVGID) in its ACPI namespace. The guest's clocksource, uptime and local timer interrupts are printed
 * at the snapshot and after each restore, to show its clock going on rather than restarting.
 */
@vessel.testkit.LinuxGuestTest
class LinuxSnapshotTest {
    private static final Pattern COUNT = Pattern.compile("(c[0-9]+)=([0-9]+)");

    @BeforeEach
    void kvm() {
        RequiresKvm.assumeLinuxGuests();
    }

    private static void type(VirtualMachine vm, String text) throws InterruptedException {
        byte[] b = text.getBytes(StandardCharsets.US_ASCII);
        vm.sendConsoleInput(b, 0, b.length);
    }

    private static void await(VirtualMachine vm, GuestRunTest.Console console, String text, long minutes)
            throws InterruptedException {
        long deadline = System.nanoTime() + minutes * 60_000_000_000L;
        while (!console.text().contains(text) && System.nanoTime() < deadline && vm.state() != VirtualMachine.State.ENDED) {
            Thread.sleep(200);
        }
        String out = console.text();
        assertTrue(out.contains(text), "no '" + text + "'; console:\n" + out.substring(Math.max(0, out.length() - 2000)));
    }

    /** The last value the guest printed as {@code name=N}, waiting up to a minute for it to be printed. */
    private static long count(GuestRunTest.Console console, String name) throws InterruptedException {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (true) {
            Matcher m = COUNT.matcher(console.text());
            long v = -1;
            while (m.find()) {
                if (m.group(1).equals(name)) {
                    v = Long.parseLong(m.group(2));
                }
            }
            if (v >= 0) {
                return v;
            }
            assertTrue(System.nanoTime() < deadline, "no " + name + "= on the console:\n" + console.text());
            Thread.sleep(200);
        }
    }

    /**
     * A {@code vessel} in a child JVM with its console on pipes: what the guest writes is collected, what
     * the test types goes to its standard input.
     */
    private static final class Child implements AutoCloseable {
        final Process process;
        final GuestRunTest.Console console = new GuestRunTest.Console();
        final long started = System.nanoTime();
        private final Path err;

        Child(Path err, String... args) throws IOException {
            this.err = err;
            process = new ProcessBuilder(VesselProcess.command(args)).redirectError(err.toFile()).start();
            Thread.ofPlatform().daemon(true).name("child-console").start(() -> {
                try (InputStream in = process.getInputStream()) {
                    in.transferTo(console);
                } catch (IOException e) {
                    // the child ended
                }
            });
        }

        void type(String text) throws IOException {
            OutputStream in = process.getOutputStream();
            in.write(text.getBytes(StandardCharsets.US_ASCII));
            in.flush();
        }

        /** Waits for {@code text} on the console for at most {@code seconds}; returns the milliseconds waited. */
        long await(String text, long seconds) throws Exception {
            long t0 = System.nanoTime();
            long deadline = t0 + seconds * 1_000_000_000L;
            while (!console.text().contains(text) && System.nanoTime() < deadline && process.isAlive()) {
                Thread.sleep(100);
            }
            String out = console.text();
            assertTrue(out.contains(text), "no '" + text + "' within " + seconds + " s; console:\n"
                    + out.substring(Math.max(0, out.length() - 2000)) + "\nstderr:\n" + stderr());
            return (System.nanoTime() - t0) / 1_000_000;
        }

        String stderr() throws IOException {
            String e = Files.readString(err);
            return e.substring(Math.max(0, e.length() - 3000));
        }

        @Override
        public void close() throws InterruptedException {
            process.destroyForcibly();
            process.waitFor(30, TimeUnit.SECONDS);
        }
    }

    /**
     * Restores the snapshot in a new {@code vessel} process (the API's {@code PUT /snapshot/load}, or
     * {@code vessel run --restore-snapshot}) and checks the guest there: its shell answers within a
     * bound of the VM running again, a {@code sleep} returns in time (its timers work), the counter has
     * gone on from {@code c0}, the shell kept its variables, the file reads back from the disk, and it
     * powers off.
     */
    private static void restoreInNewProcess(Path tmp, Path state, Path mem, long c0, int n, boolean api) throws Exception {
        Path err = tmp.resolve("child" + n + ".err");
        Child child = api ? new Child(err, "--api-sock", tmp.resolve("api" + n + ".sock").toString())
                : new Child(err, "run", "--quiet", "--restore-snapshot", state.toString(), "--mem-file", mem.toString());
        try (child) {
            long running = child.started;
            if (api) {
                Path sock = tmp.resolve("api" + n + ".sock");
                long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(10);
                while (!(Files.exists(sock) && answers(sock))) {
                    assertTrue(child.process.isAlive() && System.nanoTime() < deadline, "no API socket: " + child.stderr());
                    Thread.sleep(100);
                }
                long t = System.nanoTime();
                Curl.Response r = Curl.put(sock, "/snapshot/load", "{\"snapshot_path\": \"" + state + "\", "
                        + "\"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"" + mem + "\"}, "
                        + "\"vsock_override\": {\"uds_path\": \"" + tmp.resolve("child" + n + ".vsock") + "\"}, "
                        + "\"resume_vm\": true}");
                assertEquals(204, r.status(), r.body() + "\n" + child.stderr());
                running = System.nanoTime();
                System.out.printf("new process %d (API): socket after %.1f s, PUT /snapshot/load %.1f s%n", n,
                        (t - child.started) / 1e9, (running - t) / 1e9);
            }
            // The restored shell answers: no timer is needed for that, only the UART's interrupts.
            child.type("echo answer-" + n + "-$((6*7)) up=$(cut -d' ' -f1 /proc/uptime)\n");
            child.await("answer-" + n + "-42", api ? 120 : 300);
            long answered = System.nanoTime();
            System.out.println("new process " + n + " answered: " + child.console.text().lines()
                    .filter(l -> l.startsWith("answer-" + n + "-42")).findFirst().orElse("?"));
            // A sleep returns: the guest's LAPIC timer survived the restore (with it lost, the shell
            // still answers, but nothing that waits for time does).
            child.type("echo restored-" + n + "-$before c1=$(cat /tmp/count) clock=$(cat /sys/devices/system/clocksource/"
                    + "clocksource0/current_clocksource) up=$(cut -d' ' -f1 /proc/uptime); sleep 2; echo slept\"\"-" + n
                    + " c2=$(cat /tmp/count)\n");
            long slept = child.await("slept-" + n, 60);
            System.out.printf("new process %d (%s): shell answered %.1f s after the VM ran again (%.1f s after"
                    + " process start); 'sleep 2' and an echo took %.1f s%n", n, api ? "API" : "CLI",
                    (answered - running) / 1e9, (answered - child.started) / 1e9, slept / 1e3);
            assertTrue(child.console.text().contains("restored-" + n + "-snap-42"), "the shell's variable: "
                    + child.console.text());
            long c1 = count(child.console, "c1");
            long c2 = count(child.console, "c2");
            assertTrue(c1 >= c0 && c2 > c1, "process " + n + ": the counter went " + c0 + " -> " + c1 + " -> " + c2);
            child.type("echo 3 >/proc/sys/vm/drop_caches; echo disk-" + n + "-$(cat /mnt/data/snap.txt)\n");
            child.await("disk-" + n + "-snap-data-42", 120);
            child.type("umount /mnt/data; poweroff\n");
            assertTrue(child.process.waitFor(5, TimeUnit.MINUTES), "process " + n + " did not end after poweroff: "
                    + child.console.text() + "\n" + child.stderr());
            assertEquals(0, child.process.exitValue(), child.stderr());
        }
    }

    /** What the state file holds of the LAPIC timer: its mode, and the TSC and deadline MSRs in saved order. */
    private static void printTimerState(Path state) throws Exception {
        VmSnapshot snap = vessel.vmm.snapshot.SnapshotFile.read(state);
        for (VmSnapshot.VcpuState v : snap.vcpus()) {
            byte[] lapic = v.blob(vessel.kvm.VcpuStateBlob.LAPIC);
            int lvtt = java.nio.ByteBuffer.wrap(lapic, 0x320, 4).order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt();
            StringBuilder msrs = new StringBuilder();
            for (int i = 0; i < v.msrIndices().length; i++) {
                int idx = v.msrIndices()[i];
                if (idx == vessel.kvm.MsrEntry.IA32_TSC || idx == vessel.kvm.MsrEntry.IA32_TSC_DEADLINE || idx == 0x3b) {
                    msrs.append(String.format(" [%d] 0x%x=%d", i, idx, v.msrValues()[i]));
                }
            }
            System.out.printf("vCPU %d saved: LVTT 0x%x (mode %d, masked %b);%s%n", v.id(), lvtt, (lvtt >>> 17) & 3,
                    (lvtt & 0x10000) != 0, msrs);
        }
    }

    private static boolean answers(Path sock) {
        try {
            return Curl.get(sock, "/").status() == 200;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    @Test
    void aBootedGuestIsSnapshottedAndGoesOnInNewProcessesTwice(@TempDir Path tmp) throws Exception {
        Path state = tmp.resolve("linux.state");
        Path mem = tmp.resolve("linux.mem");
        Path disk = tmp.resolve("data.ext4");
        Files.copy(DefaultImage.file("data.ext4"), disk);
        VmConfig config = VmConfig.builder().kernel(DefaultImage.file("vmlinuz")).initrd(DefaultImage.file("initramfs.cpio.gz"))
                .memory("256M").cmdline(Files.readString(DefaultImage.file("cmdline")).strip())
                .drive(disk, false, "data").entropy(true).vsock(new VsockConfig(3, tmp.resolve("v.sock"))).build();
        GuestRunTest.Console console = new GuestRunTest.Console();
        long t0 = System.nanoTime();
        long c0;
        try (VirtualMachine vm = VirtualMachine.create(config, console)) {
            vm.start();
            await(vm, console, "VESSEL-INIT: shell ready", 50);
            Thread.sleep(2000);
            type(vm, "mkdir -p /mnt/data && mount -t ext4 /dev/vda /mnt/data && echo snap-data-$((6*7)) >/mnt/data/snap.txt"
                    + " && sync && echo wrote-$(cat /mnt/data/snap.txt)\n");
            await(vm, console, "wrote-snap-data-42", 10);
            // The VM generation ID device is in the guest's ACPI namespace.
            type(vm, "echo vgid=$(ls /sys/bus/acpi/devices | grep -c '^QEMUVGID:')\n");
            await(vm, console, "vgid=1", 5);
            type(vm, "(i=0; while :; do i=$((i+1)); echo $i >/tmp/count; sleep 1; done) &\n");
            type(vm, "before=snap-$((6*7)); sleep 3; echo set-$before c0=$(cat /tmp/count) clock=$(cat /sys/devices/system/"
                    + "clocksource/clocksource0/current_clocksource) up=$(cut -d' ' -f1 /proc/uptime) $(grep LOC /proc/interrupts)\n");
            await(vm, console, "set-snap-42", 5);
            c0 = count(console, "c0");
            vm.pause();
            VirtualMachine.SnapshotResult r = vm.snapshot(state, mem, VmSnapshot.Type.FULL);
            System.out.printf("linux+devices snapshot after %.1f s of boot: %s (state file %d bytes)%n",
                    (System.nanoTime() - t0) / 1e9, r, Files.size(state));
        }
        System.out.println("at the snapshot: " + console.text().lines().filter(l -> l.startsWith("set-snap-42"))
                .findFirst().orElse("?"));
        printTimerState(state);
        Path pristine = tmp.resolve("pristine.ext4");
        Files.copy(disk, pristine);
        // Two new processes restore the same files in turn, each on the disk as it was at the snapshot
        // (the state file names it; the first restore's writes are undone before the second).
        restoreInNewProcess(tmp, state, mem, c0, 1, true);
        Files.copy(pristine, disk, StandardCopyOption.REPLACE_EXISTING);
        restoreInNewProcess(tmp, state, mem, c0, 2, false);
    }
}
