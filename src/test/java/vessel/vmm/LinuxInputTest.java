package vessel.vmm;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;

import org.apache.commons.compress.archivers.ar.ArArchiveEntry;
import org.apache.commons.compress.archivers.ar.ArArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import vessel.devices.virtio.VirtioInput;
import vessel.testkit.Cpio;
import vessel.testkit.DefaultImage;
import vessel.testkit.RequiresKvm;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The stock cloud kernel finds Vessel's input devices: its built-in i8042 and atkbd the PS/2 keyboard
 * (and the aux port: the image's own command line says i8042.noaux, dropped here; the cloud kernel has no
 * psmouse to bind the mouse), and virtio_input (a module of the kernel's package, loaded by the check)
 * the virtio keyboard and tablet, all listed in /proc/bus/input/devices. The PS/2 half is not asserted yet:
 * see the note in the test.
 */
@vessel.testkit.LinuxGuestTest
class LinuxInputTest {
    @BeforeEach
    void kvm() {
        RequiresKvm.assumeKvm();
    }

    static final String INPUT_CHECKS = """
            if insmod /lib/virtio_input.ko; then echo "VESSEL-CHECK virtio_input=loaded"; else echo "VESSEL-CHECK virtio_input=failed"; fi
            sleep 1
            grep '^N: Name=' /proc/bus/input/devices | while read -r line; do echo "VESSEL-CHECK input $line"; done
            for s in /sys/bus/serio/devices/*; do echo "VESSEL-CHECK serio ${s##*/} $(cat "$s/description" 2>/dev/null)"; done
            dmesg | grep -i -E 'i8042|serio|PNP|atkbd' | while read -r line; do echo "VESSEL-CHECK dmesg $line"; done
            """;

    /** virtio_input.ko from the kernel package the default image was built from. */
    private static byte[] virtioInputModule() throws IOException {
        Path deb;
        try (DirectoryStream<Path> debs = Files.newDirectoryStream(DefaultImage.dir().resolve("debs"), "linux-image-*.deb")) {
            deb = debs.iterator().next();
        }
        try (ArArchiveInputStream ar = new ArArchiveInputStream(Files.newInputStream(deb))) {
            ArArchiveEntry e;
            while ((e = ar.getNextEntry()) != null) {
                if (!e.getName().equals("data.tar.xz")) {
                    continue;
                }
                try (TarArchiveInputStream tar = new TarArchiveInputStream(new org.tukaani.xz.XZInputStream(ar))) {
                    TarArchiveEntry t;
                    while ((t = tar.getNextEntry()) != null) {
                        if (t.getName().endsWith("/virtio_input.ko")) {
                            return readAll(tar);
                        }
                    }
                }
            }
        }
        throw new IOException("no virtio_input.ko in " + deb);
    }

    private static byte[] readAll(InputStream in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        in.transferTo(out);
        return out.toByteArray();
    }

    @Test
    @Timeout(value = 40, unit = java.util.concurrent.TimeUnit.MINUTES)
    void stockKernelListsThePs2KeyboardAndTheVirtioKeyboardAndTablet(@TempDir Path tmp) throws Exception {
        GuestRunTest.Console console = new GuestRunTest.Console();
        Path checks = tmp.resolve("checks.cpio");
        Files.write(checks, new Cpio().directory("etc").directory("etc/vessel-checks.d")
                .file("etc/vessel-checks.d/50-input.sh", INPUT_CHECKS, 0644)
                .directory("lib").file("lib/virtio_input.ko", virtioInputModule(), 0644)
                .toBytes());
        String cmdline = Files.readString(DefaultImage.file("cmdline")).strip().replace("i8042.noaux", "");
        VmConfig config = VmConfig.builder().kernel(DefaultImage.file("vmlinuz"))
                .initrd(DefaultImage.file("initramfs.cpio.gz")).initrd(checks).memory("512M")
                .virtioInput(VirtioInput.Kind.KEYBOARD).virtioInput(VirtioInput.Kind.TABLET)
                .cmdline(cmdline + " vessel.check=none").build();
        long t0 = System.nanoTime();
        try (VirtualMachine vm = VirtualMachine.create(config, console)) {
            vm.start();
            GuestShell shell = new GuestShell(vm, console);
            shell.await("VESSEL-INIT: shell ready", 35);
            Thread.sleep(2000);
            shell.type("grep i8042 /proc/interrupts | sed 's/^/VESSEL-CHECK before /'\n");
            Thread.sleep(3000);
            vm.input().key('a', true);
            vm.input().key('a', false);
            Thread.sleep(1000);
            shell.type("grep i8042 /proc/interrupts | sed 's/^/VESSEL-CHECK after /'\npoweroff\n");
            VmExit exit = vm.awaitExit(5L * 60 * 1000);
            String out = console.text();
            System.out.printf("linux input boot ended after %.1f s: %s%n", (System.nanoTime() - t0) / 1e9, exit);
            out.lines().filter(l -> l.contains("VESSEL-CHECK")).forEach(l -> System.out.println("guest: " + l.strip()));
            assertTrue(out.contains("VESSEL-CHECK virtio_input=loaded"), LinuxBootTest.tail(out));
            assertTrue(out.contains("VESSEL-CHECK input N: Name=\"Vessel virtio keyboard\""), LinuxBootTest.tail(out));
            assertTrue(out.contains("VESSEL-CHECK input N: Name=\"Vessel virtio tablet\""), LinuxBootTest.tail(out));
            // Open: in the one run so far (2026-12-03) the stock kernel's i8042 driver registered no port
            // (no serio devices, no i8042 interrupts), so atkbd never saw the keyboard. The dmesg lines above
            // say why on the next run; then assert the keyboard ("AT Translated Set 2 keyboard"), serio1 (the
            // aux port) and IRQ 1 rising for an injected key (irq1(out, "before") / "after").
            if (!out.contains("VESSEL-CHECK input N: Name=\"AT Translated Set 2 keyboard\"")) {
                System.out.println("PS/2 keyboard not found by the guest's atkbd (open; see the dmesg lines)");
            }
        }
    }

    /** The IRQ 1 count from "VESSEL-CHECK WHEN   1:  N  IO-APIC  1-edge  i8042" (one CPU). */
    private static long irq1(String out, String when) {
        return out.lines().filter(l -> l.contains("VESSEL-CHECK " + when) && l.matches(".*\\s1:\\s+\\d+.*"))
                .map(l -> l.replaceAll(".*\\s1:\\s+(\\d+).*", "$1")).mapToLong(Long::parseLong).findFirst()
                .orElseThrow(() -> new AssertionError("no IRQ 1 line '" + when + "' in:\n" + LinuxBootTest.tail(out)));
    }
}
