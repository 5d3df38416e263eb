package vessel.cli;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import vessel.testkit.LinuxGuestTest;
import vessel.testkit.NativeTools;
import vessel.testkit.RequiresKvm;
import vessel.testkit.TestFirmware;
import vessel.testkit.VesselProcess;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 17's acceptance: the Debian disk scripts/disk-image.sh builds ({@code ./vessel image --disk}) boots as a
 * PC boots it: {@code vessel run --firmware --drive path=disk.img} runs SeaBIOS, which loads GRUB from the MBR
 * and the gap after it; GRUB reads its grub.cfg from the ext4 root partition, shows its menu on the serial
 * console and loads Debian's generic kernel and initramfs from there; the initramfs mounts the partition as
 * root and busybox init puts a login prompt on ttyS0. The test logs in as root, runs a command and powers off.
 */
@LinuxGuestTest
class FirmwareDiskBootTest {
    private static final long MINUTE = 60L * 1_000_000_000L;

    /** The stdout of the vessel process, as it arrives. */
    private static final class Console {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

        synchronized void append(byte[] b, int n) {
            bytes.write(b, 0, n);
        }

        synchronized String text() {
            return bytes.toString(StandardCharsets.UTF_8);
        }

        /** Waits until {@code marker} appears after {@code from}; returns where it ends, or -1 on timeout or exit. */
        int await(String marker, int from, long deadline, Process p) throws InterruptedException {
            while (System.nanoTime() < deadline) {
                int at = text().indexOf(marker, from);
                if (at >= 0) {
                    return at + marker.length();
                }
                if (!p.isAlive()) {
                    return text().indexOf(marker, from) >= 0 ? text().indexOf(marker, from) + marker.length() : -1;
                }
                Thread.sleep(100);
            }
            return -1;
        }
    }

    private static Path disk() throws IOException, InterruptedException {
        String env = System.getenv("VESSEL_DISK_DIR");
        Path base = (env != null ? Path.of(env) : NativeTools.projectDir().resolve(".cache/disk")).resolve("disk.img");
        assertTrue(Files.isRegularFile(base), "disk image missing: " + base + " (run ./vessel image --disk)");
        Path dir = Files.createDirectories(NativeTools.projectDir().resolve("target/firmware-test"));
        Path copy = dir.resolve("debian-disk.img");
        Files.deleteIfExists(copy);
        // A copy: the guest writes to its root; the cached disk stays as built. Sparse, as the image is mostly holes.
        NativeTools.run(List.of("cp", "--sparse=always", base.toString(), copy.toString()), dir);
        return copy;
    }

    private static String tail(String s) {
        return s.length() > 3000 ? "..." + s.substring(s.length() - 3000) : s;
    }

    @Test
    @Timeout(value = 24, unit = TimeUnit.MINUTES)
    void debianDiskBootsThroughSeabiosAndGrubToALoginAndPowersOff() throws Exception {
        RequiresKvm.assumeLinuxGuests();
        Path seabios = TestFirmware.seabios();
        Path disk = disk();
        long t0 = System.nanoTime();
        Process p = new ProcessBuilder(VesselProcess.command("run", "--firmware", seabios.toString(), "--memory", "512M",
                "--drive", "path=" + disk)).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        Console console = new Console();
        Thread reader = Thread.ofPlatform().daemon().start(() -> {
            byte[] buf = new byte[4096];
            try (InputStream in = p.getInputStream()) {
                int n;
                while ((n = in.read(buf)) > 0) {
                    console.append(buf, n);
                }
            } catch (IOException e) {
                // the process ended
            }
        });
        try (OutputStream keys = p.getOutputStream()) {
            long deadline = t0 + 20 * MINUTE;
            int at = console.await("SeaBIOS (version", 0, deadline, p);
            assertTrue(at >= 0, "no SeaBIOS banner:\n" + tail(console.text()));
            at = console.await("(Vessel disk)", at, deadline, p);
            assertTrue(at >= 0, "no GRUB menu:\n" + tail(console.text()));
            double menu = (System.nanoTime() - t0) / 1e9;
            at = console.await("Booting `Debian GNU/Linux", at, deadline, p);
            assertTrue(at >= 0, "GRUB did not boot its entry:\n" + tail(console.text()));
            at = console.await("vessel login: ", at, deadline, p);
            assertTrue(at >= 0, "no login prompt:\n" + tail(console.text()));
            double login = (System.nanoTime() - t0) / 1e9;
            System.out.printf("firmware disk boot (SeaBIOS, GRUB, Debian %s): GRUB menu after %.1f s, login prompt after %.1f s%n",
                    "generic kernel", menu, login);
            keys.write("root\n".getBytes(StandardCharsets.US_ASCII));
            keys.flush();
            at = console.await("Password: ", at, deadline, p);
            assertTrue(at >= 0, "no password prompt:\n" + tail(console.text()));
            keys.write("vessel\n".getBytes(StandardCharsets.US_ASCII));
            keys.flush();
            at = console.await("# ", at, deadline, p);
            assertTrue(at >= 0, "no root shell after logging in:\n" + tail(console.text()));
            keys.write("grep ' / ' /proc/mounts; echo dmi-$(cat /sys/class/dmi/id/sys_vendor); echo logged-in-as-$(id -u)-$((6*7)); poweroff -f\n"
                    .getBytes(StandardCharsets.US_ASCII));
            keys.flush();
            assertTrue(p.waitFor(Math.max(1, (deadline - System.nanoTime()) / 1_000_000), TimeUnit.MILLISECONDS),
                    "the guest did not power off:\n" + tail(console.text()));
        } finally {
            p.destroyForcibly();
            p.waitFor();
        }
        reader.join(10_000);
        String out = console.text();
        assertTrue(out.contains("logged-in-as-0-42"), "the command did not run:\n" + tail(out));
        assertTrue(out.contains("/dev/vda1 / ext4"), "the root is not the disk's ext4 partition:\n" + tail(out));
        assertTrue(out.contains("dmi-Vessel"), "SMBIOS (fw_cfg etc/smbios) names Vessel as the system's maker:\n" + tail(out));
        assertEquals(0, p.exitValue(), "a power-off ends vessel with status 0:\n" + tail(out));
        System.out.printf("firmware disk boot: powered off after %.1f s%n", (System.nanoTime() - t0) / 1e9);
    }
}
