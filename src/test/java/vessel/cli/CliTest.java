package vessel.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import vessel.testkit.RequiresKvm;
import vessel.testkit.TestGuests;
import vessel.testkit.VesselProcess;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Runs the CLI as a user would, in its own process, and checks its output and exit status. */
class CliTest {
    record Result(int status, String out, String err) { }

    static Result vessel(String... args) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(VesselProcess.command(args)).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        byte[] out = p.getInputStream().readAllBytes();
        byte[] err = p.getErrorStream().readAllBytes();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "vessel did not end");
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8), new String(err, StandardCharsets.UTF_8));
    }

    private static void assertOneLineError(Result r, int status, String fragment) {
        assertEquals(status, r.status(), r.err());
        assertTrue(r.err().startsWith("vessel: ") && r.err().contains(fragment), r.err());
        assertEquals(1, r.err().lines().count(), "one line, no stack trace: " + r.err());
    }

    @Test
    void badSeccompOptionsAreOneLineEach() throws Exception {
        assertOneLineError(vessel("run", "--kernel", "k.bin", "--seccomp-level", "3"), 2, "0 (off), 1 (log) or 2 (kill)");
        assertOneLineError(vessel("run", "--kernel", "k.bin", "--seccomp-level"), 2, "--seccomp-level needs a value");
        assertOneLineError(vessel("--api-sock", "x.sock", "--seccomp-level", "kill"), 2, "not 'kill'");
        assertOneLineError(vessel("--api-sock", "x.sock", "--seccomp-filter", "f.bpf"), 2, "--seccomp-filter is not supported");
    }

    @Test
    void vncOffLoopbackNeedsAPasswordAndBadVncOptionsAreOneLineEach(@TempDir Path dir) throws Exception {
        String k = Files.writeString(dir.resolve("k.bin"), "x").toString();
        assertOneLineError(vessel("run", "--kernel", k, "--vnc", "0.0.0.0:5999"), 2,
                "VNC on 0.0.0.0 (not a loopback address) needs a password (--vnc-password-file FILE)");
        assertOneLineError(vessel("--api-sock", dir.resolve("api.sock").toString(), "--vnc", "0.0.0.0:5999"), 2,
                "needs a password");
        Path empty = Files.writeString(dir.resolve("empty"), "\n");
        assertOneLineError(vessel("run", "--kernel", k, "--vnc", "0.0.0.0:5999", "--vnc-password-file", empty.toString()),
                2, "has an empty first line");
        assertOneLineError(vessel("run", "--kernel", k, "--vnc", "0.0.0.0:5999", "--vnc-password-file",
                dir.resolve("none").toString()), 2, "does not exist");
        assertOneLineError(vessel("run", "--kernel", k, "--vnc-password-file", empty.toString()), 2,
                "--vnc-password-file needs --vnc ADDRESS");
        assertOneLineError(vessel("run", "--kernel", k, "--vnc", "localhost:99999"), 2, "--vnc takes HOST:PORT");
    }

    @Test
    void missingKernelIsOneLineNamingTheFile() throws Exception {
        assertOneLineError(vessel("run", "--kernel", "/nonexistent"), 2, "/nonexistent");
    }

    @Test
    void badNetworkAndVsockInputsAreOneLineEach(@TempDir Path dir) throws Exception {
        Path kernel = Files.writeString(dir.resolve("k.bin"), "x");
        String k = kernel.toString();
        assertOneLineError(vessel("run", "--kernel", k, "--net", "tap=vesselnotap0"), 2,
                "TAP device 'vesselnotap0' does not exist (create it: ip tuntap add vesselnotap0 mode tap)");
        assertOneLineError(vessel("run", "--kernel", k, "--net", "tap=t0,mac=52:54:00:12:34"), 2,
                "MAC address '52:54:00:12:34' is not six hex pairs");
        assertOneLineError(vessel("run", "--kernel", k, "--net", "tap=t0,mac=01:00:5e:00:00:01"), 2, "multicast");
        assertOneLineError(vessel("run", "--kernel", k, "--net", "mac=52:54:00:12:34:56"), 2, "needs tap=NAME");
        assertOneLineError(vessel("run", "--kernel", k, "--net", "tap=t0", "--net", "tap=t0"), 2,
                "TAP device 't0' is used twice");
        assertOneLineError(vessel("run", "--kernel", k, "--net", "tap=t0,queues=4"), 2, "unknown key 'queues'");
        assertOneLineError(vessel("run", "--kernel", k, "--vsock", "cid=2,uds=" + dir.resolve("v.sock")), 2,
                "vsock CID 2 is out of range (3 to 4294967294; 0-2 are reserved)");
        assertOneLineError(vessel("run", "--kernel", k, "--vsock", "cid=x,uds=/tmp/v"), 2, "'x'");
        assertOneLineError(vessel("run", "--kernel", k, "--vsock", "cid=3"), 2, "needs cid=N and uds=PATH");
        assertOneLineError(vessel("run", "--kernel", k, "--vsock", "cid=3,uds=" + dir.resolve("no/v.sock")), 2,
                "directory " + dir.resolve("no") + " does not exist");
        try (var listener = java.nio.channels.ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
            Path busy = dir.resolve("busy.sock");
            listener.bind(java.net.UnixDomainSocketAddress.of(busy));
            assertOneLineError(vessel("run", "--kernel", k, "--vsock", "cid=3,uds=" + busy), 2, "is in use");
        }
    }

    @Test
    void badInputsAreOneLineEach(@TempDir Path dir) throws Exception {
        Path kernel = Files.writeString(dir.resolve("k.bin"), "x");
        assertOneLineError(vessel("run", "--kernel", dir.toString()), 2, "is a directory");
        assertOneLineError(vessel("run", "--kernel", kernel.toString(), "--memory", "lots"), 2, "'lots'");
        assertOneLineError(vessel("run", "--kernel", kernel.toString(), "--memory", "0"), 2, "more than zero");
        assertOneLineError(vessel("run", "--kernel", kernel.toString(), "--memory", "100T"), 2, "more than this host has");
        assertOneLineError(vessel("run", "--kernel", kernel.toString(), "--cpus", "two"), 2, "'two'");
        assertOneLineError(vessel("run", "--kernel", kernel.toString(), "--entry", "sideways"), 2, "sideways");
        assertOneLineError(vessel("run", "--kernel", kernel.toString(), "--drive", "path=/nonexistent.img"), 2,
                "drive 'drive0': /nonexistent.img does not exist");
        assertOneLineError(vessel("run", "--kernel", kernel.toString(), "--drive", "path=" + dir), 2, "is a directory");
        assertOneLineError(vessel("run", "--kernel", kernel.toString(), "--drive", "ro"), 2, "needs path=FILE");
        assertOneLineError(vessel("run", "--kernel", kernel.toString(), "--drive", "path=x,cache=none"), 2,
                "unknown key 'cache'");
        assertOneLineError(vessel("run", "--kernel", kernel.toString(), "--drive", "path=x,format=vmdk"), 2,
                "format is raw or qcow2, not 'vmdk'");
        Path hostile = Files.write(dir.resolve("h.qcow2"), new byte[] {'Q', 'F', 'I', (byte) 0xfb, 0, 0, 0, 3});
        assertOneLineError(vessel("run", "--kernel", kernel.toString(), "--drive", "path=" + hostile), 2,
                "drive 'drive0': " + hostile + ": too short for a qcow2 header");
        assertOneLineError(vessel("run", "--kernel", kernel.toString(), "--drive", "path=a,id=d",
                "--drive", "path=b,id=d"), 2, "'d' is used twice");
        assertOneLineError(vessel("run", "--kernel", kernel.toString(), "--pmem", "path=/nonexistent.img"), 2,
                "pmem 'pmem0': /nonexistent.img does not exist");
        Path empty = Files.write(dir.resolve("empty.img"), new byte[0]);
        assertOneLineError(vessel("run", "--kernel", kernel.toString(), "--pmem", "path=" + empty + ",id=p"), 2,
                "pmem 'p': " + empty + " is empty");
        assertOneLineError(vessel("run", "--kernel", kernel.toString(), "--pmem", "path=" + dir), 2, "not a regular file");
        assertOneLineError(vessel("run", "--kernel", kernel.toString(), "--pmem", "ro"), 2, "--pmem needs path=FILE");
        assertOneLineError(vessel("run", "--kernel", kernel.toString(), "--pmem", "path=x,ro=maybe"), 2,
                "ro takes no value");
        assertOneLineError(vessel("run", "--kernel"), 2, "needs a value");
        assertOneLineError(vessel("run", "--frobnicate"), 2, "--frobnicate");
        assertOneLineError(vessel("launch"), 2, "launch");
    }

    @Test
    void badFirmwareIsOneLineEach(@TempDir Path dir) throws Exception {
        Path odd = Files.write(dir.resolve("odd.bin"), new byte[1000]);
        assertOneLineError(vessel("run", "--firmware", odd.toString()), 2,
                "firmware " + odd + " is 1000 bytes, not a whole number of 64 KiB");
        Path big = Files.write(dir.resolve("big.bin"), new byte[17 << 20]);
        assertOneLineError(vessel("run", "--firmware", big.toString()), 2, "more than the 16 MiB");
        assertOneLineError(vessel("run", "--firmware", dir.resolve("none.bin").toString()), 2,
                "firmware file " + dir.resolve("none.bin") + " does not exist");
        assertOneLineError(vessel("run", "--firmware", odd.toString(), "--kernel", odd.toString()), 2,
                "--firmware and --kernel are two ways to boot");
        assertOneLineError(vessel("run", "--firmware", odd.toString(), "--memory", "8M"), 2, "too small to boot through firmware");
        assertOneLineError(vessel("run", "--firmware"), 2, "name a ROM file here");
    }

    @Test
    void aFirmwareBootWithNothingToBootIsOneLine(@TempDir Path dir) throws Exception {
        Path rom = Files.write(dir.resolve("rom.bin"), new byte[64 << 10]);
        assertOneLineError(vessel("run", "--firmware", rom.toString()), 2, "--firmware boots the first --drive, and none is given");
        Path blank = Files.write(dir.resolve("blank.img"), new byte[1 << 20]);
        assertOneLineError(vessel("run", "--quiet", "--firmware", rom.toString(), "--drive", "path=" + blank), 2,
                "drive 'drive0': " + blank + " is not bootable: its first sector has no boot signature");
        assertEquals(0, Files.readAllBytes(blank)[0], "nothing written");
        // What sfdisk leaves: a partition table (one bootable Linux partition at 1 MiB) and the signature, no code.
        byte[] partitioned = new byte[1 << 20];
        partitioned[446] = (byte) 0x80;
        partitioned[446 + 4] = (byte) 0x83;
        partitioned[446 + 8 + 1] = 0x08; // first sector 2048
        partitioned[446 + 12] = 0x10; // 16 sectors
        partitioned[510] = 0x55;
        partitioned[511] = (byte) 0xaa;
        Path noLoader = Files.write(dir.resolve("partitioned.img"), partitioned);
        // --quiet: on a loaded host the check may come after the 2 s progress line would.
        assertOneLineError(vessel("run", "--quiet", "--firmware", rom.toString(), "--drive", "path=" + noLoader), 2,
                "drive 'drive0': " + noLoader + " is not bootable: its first sector has a partition table but no boot loader");
        assertArrayEquals(partitioned, Files.readAllBytes(noLoader), "nothing written");
    }

    @Test
    void unreadableKernelIsNamed(@TempDir Path dir) throws Exception {
        Path kernel = Files.writeString(dir.resolve("secret.bin"), "x");
        Files.setPosixFilePermissions(kernel, java.util.Set.of());
        org.junit.jupiter.api.Assumptions.assumeFalse(Files.isReadable(kernel),
                "skipped: this user (root?) can read a file with no permissions, so the check cannot be exercised");
        assertOneLineError(vessel("run", "--kernel", kernel.toString(), "--entry", "long"), 2, "cannot be read");
    }

    @Test
    void noKvmIsOneLineWithTheReason() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeFalse(RequiresKvm.available(), "skipped: this host has KVM");
        Result r = vessel("run", "--kernel", TestGuests.get("long.bin").toString(), "--entry", "long");
        assertOneLineError(r, 1, "/dev/kvm");
    }

    @Test
    void helpPrintsUsage() throws Exception {
        Result r = vessel("run", "--help");
        assertEquals(0, r.status());
        assertTrue(r.out().contains("--kernel FILE"), r.out());
    }
}
