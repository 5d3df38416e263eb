package vessel.vmm;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import vessel.testkit.DefaultImage;
import vessel.testkit.RequiresKvm;
import vessel.vmm.snapshot.VmSnapshot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The default guest with its virtio devices (an ext4 drive, entropy, vsock) booted to its shell, where a
 * counter runs and a file is written to the drive and synced; then paused, snapshotted, and restored as
 * two clones side by side in this JVM from the same files, each on its own copy of the disk and its own
 * vsock socket: in each the counter goes on from where it was, the file reads back from the disk (page
 * cache dropped, so through the restored virtio-blk queue), a new write syncs, and the console answers.
 * The guest also shows the VM generation ID device (QEMUVGID) in its ACPI namespace.
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

    @Test
    void aBootedGuestWithDevicesIsSnapshottedAndGoesOnInTwoClones(@TempDir Path tmp) throws Exception {
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
            type(vm, "before=snap-$((6*7)); sleep 3; echo set-$before c0=$(cat /tmp/count)\n");
            await(vm, console, "set-snap-42", 5);
            c0 = count(console, "c0");
            vm.pause();
            VirtualMachine.SnapshotResult r = vm.snapshot(state, mem, VmSnapshot.Type.FULL);
            System.out.printf("linux+devices snapshot after %.1f s of boot: %s (state file %d bytes)%n",
                    (System.nanoTime() - t0) / 1e9, r, Files.size(state));
        }
        // Two clones at once, each on its own copy of the disk as it was at the snapshot, and its own socket.
        List<VirtualMachine> clones = new ArrayList<>();
        List<GuestRunTest.Console> consoles = new ArrayList<>();
        try {
            for (int i = 1; i <= 2; i++) {
                Path copy = tmp.resolve("clone" + i + ".ext4");
                Files.copy(disk, copy);
                GuestRunTest.Console restored = new GuestRunTest.Console();
                long t1 = System.nanoTime();
                VirtualMachine vm = VirtualMachine.restore(state, mem, restored, RestoreOverrides.NONE
                        .withDrive("data", copy).withVsockUds(tmp.resolve("v" + i + ".sock")));
                System.out.printf("restore %d made in %.1f ms%n", i, (System.nanoTime() - t1) / 1e6);
                clones.add(vm);
                consoles.add(restored);
                vm.start();
            }
            for (int i = 1; i <= 2; i++) {
                VirtualMachine vm = clones.get(i - 1);
                GuestRunTest.Console restored = consoles.get(i - 1);
                type(vm, "echo restored-" + i + "-$before c1=$(cat /tmp/count)\n");
                await(vm, restored, "restored-" + i + "-snap-42", 10);
                type(vm, "echo 3 >/proc/sys/vm/drop_caches; echo disk-" + i + "-$(cat /mnt/data/snap.txt)\n");
                await(vm, restored, "disk-" + i + "-snap-data-42", 10);
                type(vm, "echo clone-" + i + " >/mnt/data/clone.txt && sync && sleep 2 && echo sync\"\"ed-" + i
                        + " c2=$(cat /tmp/count)\n"); // the quotes keep the echoed command from matching
                await(vm, restored, "synced-" + i, 10);
                long c1 = count(restored, "c1");
                long c2 = count(restored, "c2");
                assertTrue(c1 >= c0 && c2 > c1, "clone " + i + ": the counter went " + c0 + " -> " + c1 + " -> " + c2);
            }
            for (int i = 1; i <= 2; i++) {
                VirtualMachine vm = clones.get(i - 1);
                type(vm, "umount /mnt/data; poweroff\n");
                VmExit exit = vm.awaitExit(5L * 60 * 1000);
                assertTrue(exit != null && exit.reason() == VmExit.Reason.POWER_OFF, "clone " + i + ": " + exit
                        + "\n" + consoles.get(i - 1).text());
            }
        } finally {
            for (VirtualMachine vm : clones) {
                vm.close();
            }
        }
        // Each clone wrote its own disk; the snapshotted one has neither write.
        for (int i = 1; i <= 2; i++) {
            byte[] image = Files.readAllBytes(tmp.resolve("clone" + i + ".ext4"));
            assertTrue(new String(image, StandardCharsets.ISO_8859_1).contains("clone-" + i + "\n"), "clone " + i + "'s write");
        }
        assertEquals(-1, new String(Files.readAllBytes(disk), StandardCharsets.ISO_8859_1).indexOf("clone-1\n"));
    }
}
