package vessel.vmm;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import vessel.testkit.DefaultImage;
import vessel.testkit.RequiresKvm;
import vessel.vmm.snapshot.VmSnapshot;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The default guest's kernel and initramfs (no virtio devices: snapshots do not carry them yet) booted to
 * its shell, paused, snapshotted, and restored twice from the same files: each restored guest's console
 * still answers, with a shell variable set before the snapshot.
 */
@vessel.testkit.LinuxGuestTest
class LinuxSnapshotTest {
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

    @Test
    void aBootedShellIsSnapshottedAndAnswersAfterEachRestore(@TempDir Path tmp) throws Exception {
        Path state = tmp.resolve("linux.state");
        Path mem = tmp.resolve("linux.mem");
        VmConfig config = VmConfig.builder().kernel(DefaultImage.file("vmlinuz")).initrd(DefaultImage.file("initramfs.cpio.gz"))
                .memory("256M").cmdline(Files.readString(DefaultImage.file("cmdline")).strip()).build();
        GuestRunTest.Console console = new GuestRunTest.Console();
        long t0 = System.nanoTime();
        try (VirtualMachine vm = VirtualMachine.create(config, console)) {
            vm.start();
            await(vm, console, "VESSEL-INIT: shell ready", 50);
            Thread.sleep(2000);
            type(vm, "before=snap-$((6*7))\necho set-$before\n");
            await(vm, console, "set-snap-42", 5);
            vm.pause();
            VirtualMachine.SnapshotResult r = vm.snapshot(state, mem, VmSnapshot.Type.FULL);
            System.out.printf("linux snapshot after %.1f s: %s%n", (System.nanoTime() - t0) / 1e9, r);
        }
        for (int i = 1; i <= 2; i++) {
            GuestRunTest.Console restored = new GuestRunTest.Console();
            long t1 = System.nanoTime();
            try (VirtualMachine vm = VirtualMachine.restore(state, mem, restored)) {
                vm.start();
                type(vm, "echo restored-" + i + "-$before\n");
                await(vm, restored, "restored-" + i + "-snap-42", 10);
                System.out.printf("restore %d answered after %.1f s%n", i, (System.nanoTime() - t1) / 1e9);
                type(vm, "poweroff\n");
                VmExit exit = vm.awaitExit(5L * 60 * 1000);
                assertTrue(exit != null && exit.reason() == VmExit.Reason.POWER_OFF, "restore " + i + ": " + exit
                        + "\n" + restored.text());
            }
        }
    }
}
