package vessel.vmm;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import org.junit.jupiter.api.io.TempDir;

import vessel.testkit.Cpio;
import vessel.testkit.DefaultImage;
import vessel.testkit.HostTools;
import vessel.testkit.NetNamespace;
import vessel.testkit.TestGuests;
import vessel.testkit.RequiresKvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Boots Debian's unmodified cloud kernel. A stock boot takes many minutes on hosts whose KVM emulates
 * guest code, so everything Linux-level is checked in one boot: the guest's /init runs the checks
 * ("vessel.check" on the command line) and prints the results, then the test types into its shell.
 */
@vessel.testkit.LinuxGuestTest
class LinuxBootTest {
    @BeforeEach
    void kvm() {
        RequiresKvm.assumeLinuxGuests();
    }

    private static String cmdline() throws Exception {
        return Files.readString(DefaultImage.file("cmdline")).strip();
    }

    /**
     * Run by /init with its other checks (/etc/vessel-checks.d): what the guest's own PCI and virtio
     * drivers made of Vessel's devices. vda is a writable copy of the image's ext4 data disk, vdb a
     * read-only one.
     */
    static final String VIRTIO_CHECKS = """
            for d in /sys/bus/pci/devices/*; do
                driver=$(readlink "$d/driver"); driver=${driver##*/}
                echo "VESSEL-CHECK pci ${d##*/} $(cat "$d/vendor"):$(cat "$d/device") class=$(cat "$d/class") driver=${driver:-none}"
            done
            token=
            for word in $(cat /proc/cmdline); do
                case "$word" in vessel.token=*) token=${word#vessel.token=} ;; esac
            done
            mkdir -p /mnt/data
            if mount -t ext4 /dev/vda /mnt/data 2>/tmp/mount.err; then
                echo "VESSEL-CHECK hello=$(cat /mnt/data/hello.txt)"
                echo "written by the guest: $token" >/mnt/data/guest.txt
                sync
                umount /mnt/data && echo "VESSEL-CHECK blk_write=synced"
            else
                echo "VESSEL-CHECK blk_mount=failed $(cat /tmp/mount.err)"
            fi
            echo "VESSEL-CHECK vdb_ro=$(cat /sys/block/vdb/ro)"
            if dd if=/dev/zero of=/dev/vdb bs=4096 count=1 conv=fsync 2>/dev/null; then
                echo "VESSEL-CHECK ro_write=accepted"
            else
                echo "VESSEL-CHECK ro_write=refused"
            fi
            echo "VESSEL-CHECK rng_current=$(cat /sys/class/misc/hw_random/rng_current)"
            echo "VESSEL-CHECK hwrng=$(dd if=/dev/hwrng bs=32 count=1 2>/dev/null | od -An -tx1 | tr -d ' \\n')"
            # vsock, both ways: the host connects to a guest listener (in the background, echoing), and
            # the guest connects to the host (CID 2), whose listener answers.
            /bin/vsock-echo listen 5000 &
            /bin/vsock-echo connect 2 6000 "guest-hello-$token"
            # virtio-net, when the test gave the guest a TAP: address, ping, then a file over HTTP.
            if [ -e /sys/class/net/eth0 ]; then
                ip addr add 10.0.2.15/24 dev eth0 && ip link set eth0 up
                echo "VESSEL-CHECK eth0_mac=$(cat /sys/class/net/eth0/address)"
                if ping -c 1 -W 10 10.0.2.2 >/dev/null 2>&1; then
                    echo "VESSEL-CHECK ping=ok"
                else
                    echo "VESSEL-CHECK ping=failed"
                fi
                if wget -q -O /tmp/blob http://10.0.2.2:8080/blob; then
                    echo "VESSEL-CHECK net_sha256=$(sha256sum /tmp/blob | cut -d' ' -f1)"
                else
                    echo "VESSEL-CHECK net_wget=failed"
                fi
            fi
            """;

    @Test
    @Timeout(value = 60, unit = java.util.concurrent.TimeUnit.MINUTES)
    void stockKernelBootsToInitWithTwoCpusVirtioDevicesAndAWorkingShell(@TempDir Path tmp) throws Exception {
        GuestRunTest.Console console = new GuestRunTest.Console();
        Path data = tmp.resolve("data.ext4");
        Path readOnly = tmp.resolve("ro.ext4");
        Files.copy(DefaultImage.file("data.ext4"), data);
        Files.copy(DefaultImage.file("data.ext4"), readOnly);
        Path checks = tmp.resolve("checks.cpio");
        Files.write(checks, new Cpio().directory("etc").directory("etc/vessel-checks.d")
                .file("etc/vessel-checks.d/50-virtio.sh", VIRTIO_CHECKS, 0644)
                .directory("bin").file("bin/vsock-echo", Files.readAllBytes(TestGuests.get("vsock-echo")), 0755)
                .toBytes());
        String token = Long.toHexString(System.nanoTime());
        // Firecracker's vsock model: guest connections to host port 6000 arrive at <uds>_6000.
        Path uds = tmp.resolve("v.sock");
        VsockHostEcho hostListener = VsockHostEcho.listen(Path.of(uds + "_6000"));
        // Network: a TAP in a namespace of the test's own, with an HTTP server there serving 4 MiB.
        NetNamespace ns = null;
        String netSkipped = null;
        try {
            ns = NetNamespace.create();
            ns.tool("ip", "tuntap", "add", "vtap0", "mode", "tap");
            ns.tool("ip", "addr", "add", "10.0.2.2/24", "dev", "vtap0");
            ns.tool("ip", "link", "set", "vtap0", "up");
        } catch (Exception | AssertionError e) {
            netSkipped = e.getMessage();
            System.out.println("network checks skipped: no network namespace with a TAP here: " + netSkipped);
            if (ns != null) {
                ns.close();
                ns = null;
            }
        }
        byte[] blob = new byte[4 << 20];
        new java.util.Random(42).nextBytes(blob);
        String blobSha = java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(blob));
        com.sun.net.httpserver.HttpServer http = ns == null ? null : ns.run(() -> {
            com.sun.net.httpserver.HttpServer s = com.sun.net.httpserver.HttpServer.create(
                    new java.net.InetSocketAddress(8080), 0);
            s.createContext("/blob", ex -> {
                ex.sendResponseHeaders(200, blob.length);
                try (var body = ex.getResponseBody()) {
                    body.write(blob);
                }
            });
            s.start();
            return s;
        });
        VmConfig.Builder builder = VmConfig.builder().kernel(DefaultImage.file("vmlinuz"))
                .initrd(DefaultImage.file("initramfs.cpio.gz")).initrd(checks).memory("512M").cpus(2)
                .drive(data, false, "data").drive(readOnly, true, "golden").entropy(true)
                .vsock(new VsockConfig(3, uds))
                .cmdline(cmdline() + " vessel.check=none vessel.token=" + token);
        if (ns != null) {
            builder.net(new NetConfig("net0", "vtap0", "52:54:00:12:34:56"));
        }
        VmConfig config = builder.build();
        long t0 = System.nanoTime();
        // The VM is made on the namespace's thread, so its TAP is the namespace's vtap0.
        VirtualMachine made = ns == null ? VirtualMachine.create(config, console)
                : ns.run(() -> VirtualMachine.create(config, console));
        try (VirtualMachine vm = made) {
            vm.start();
            // After its checks /init starts the interactive shell; type into it through the serial
            // console (the UART's receive path and Linux's 8250 driver), then power off from it.
            long deadline = System.nanoTime() + 50L * 60 * 1_000_000_000L;
            while (!console.text().contains("VESSEL-INIT: shell ready") && System.nanoTime() < deadline
                    && vm.state() != VirtualMachine.State.ENDED) {
                Thread.sleep(200);
            }
            // Host to guest over vsock: CONNECT through the Unix socket to the guest's echo listener.
            String echoed = console.text().contains("VESSEL-CHECK vsock_listening=5000")
                    ? VsockHostEcho.connectAndEcho(uds, 5000, "host-hello-" + token) : "guest never listened";
            Thread.sleep(2000); // the shell's prompt follows the hint
            // Plain poweroff, as a user types it: busybox signals PID 1, which /init traps.
            byte[] typed = "echo shell-ok-$((6*7))\npoweroff\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            vm.sendConsoleInput(typed, 0, typed.length);
            VmExit exit = vm.awaitExit(5L * 60 * 1000);
            String out = console.text();
            System.out.printf("linux boot (host decompression) ended after %.1f s: %s%n",
                    (System.nanoTime() - t0) / 1e9, exit);
            out.lines().filter(l -> l.contains("VESSEL-CHECK")).forEach(l -> System.out.println("guest: " + l.strip()));
            assertTrue(exit != null, "no power-off; console:\n" + tail(out));
            assertTrue(out.contains("VESSEL-INIT: started"), "/init did not run:\n" + tail(out));
            assertTrue(out.contains("VESSEL-CHECK nproc=2"), "guest did not bring both CPUs online:\n" + tail(out));
            long memKb = Long.parseLong(out.replaceAll("(?s).*VESSEL-CHECK memtotal_kb=(\\d+).*", "$1"));
            assertTrue(memKb > 400_000 && memKb <= 512 * 1024, "MemTotal " + memKb + " kB for a 512 MiB guest");
            assertTrue(out.contains("shell-ok-42"), "the shell did not answer typed input:\n" + tail(out));
            assertEquals(VmExit.Reason.POWER_OFF, exit.reason(), out);
            assertEquals(0, exit.status());

            // PCI: the host bridge and three virtio functions, each bound to its Linux driver.
            assertTrue(out.contains("VESSEL-CHECK pci 0000:00:00.0 0x8086:0x0d57 class=0x060000"), tail(out));
            assertTrue(out.contains("0x1af4:0x1042 class=0x018000 driver=virtio-pci"), tail(out));
            assertTrue(out.contains("0x1af4:0x1044 class=0xff0000 driver=virtio-pci"), tail(out));
            // virtio-blk: the guest mounted, read and wrote the ext4 disk; the read-only one refused a write.
            assertTrue(out.contains("VESSEL-CHECK hello=hello from the host"), tail(out));
            assertTrue(out.contains("VESSEL-CHECK blk_write=synced"), tail(out));
            assertTrue(out.contains("VESSEL-CHECK vdb_ro=1"), tail(out));
            assertTrue(out.contains("VESSEL-CHECK ro_write=refused"), tail(out));
            // virtio-rng: Linux picked it as its hardware RNG and read 32 bytes that are not all zero.
            assertTrue(out.contains("VESSEL-CHECK rng_current=virtio_rng.0"), tail(out));
            String rng = out.replaceAll("(?s).*VESSEL-CHECK hwrng=([0-9a-f]*).*", "$1");
            assertEquals(64, rng.length(), tail(out));
            assertTrue(!rng.matches("0+"), rng);
            // vsock both ways.
            assertEquals("host-hello-" + token, echoed, tail(out));
            assertTrue(out.contains("VESSEL-CHECK vsock_echoed=" + ("host-hello-" + token).length()), tail(out));
            assertTrue(out.contains("VESSEL-CHECK vsock_reply=host-echo:guest-hello-" + token), tail(out));
            assertEquals("guest-hello-" + token, hostListener.received(), tail(out));
            // virtio-net over the TAP, when this host allowed one.
            if (ns != null) {
                assertTrue(out.contains("VESSEL-CHECK eth0_mac=52:54:00:12:34:56"), tail(out));
                assertTrue(out.contains("VESSEL-CHECK ping=ok"), tail(out));
                assertTrue(out.contains("VESSEL-CHECK net_sha256=" + blobSha), tail(out));
            }
        } finally {
            hostListener.close();
            if (http != null) {
                http.stop(0);
            }
            if (ns != null) {
                ns.close();
            }
        }
        // What the guest synced is on the host's disk, and the file system is clean.
        assertEquals("written by the guest: " + token + "\n", HostTools.run("debugfs", "-R", "cat /guest.txt", data.toString()));
        HostTools.run("e2fsck", "-fn", data.toString());
        assertEquals(Files.mismatch(DefaultImage.file("data.ext4"), readOnly), -1L, "the read-only drive changed");
    }

    /**
     * ACPI S3 in the default guest (issue 19.2): its shell writes "mem" to /sys/power/state; Linux
     * offlines the second CPU, suspends its devices and writes SLP_TYP(S3) | SLP_EN to PM1a control, and
     * the VM stops. The test wakes it as the API's PATCH /vm {"state": "Resumed"} does; Linux resumes at
     * the waking vector it left in the FACS, brings the second CPU back through INIT and SIPI, and its
     * shell carries on. Separate from the boot test above so that a failure here leaves that one whole.
     */
    @Test
    @Timeout(value = 60, unit = java.util.concurrent.TimeUnit.MINUTES)
    void defaultGuestSuspendsToRamAndWakesToAWorkingShell() throws Exception {
        GuestRunTest.Console console = new GuestRunTest.Console();
        VmConfig config = VmConfig.builder().kernel(DefaultImage.file("vmlinuz"))
                .initrd(DefaultImage.file("initramfs.cpio.gz")).memory("512M").cpus(2).cmdline(cmdline())
                .acpiSleep(true).build();
        long t0 = System.nanoTime();
        try (VirtualMachine vm = VirtualMachine.create(config, console)) {
            vm.start();
            long deadline = System.nanoTime() + 40L * 60 * 1_000_000_000L;
            while (!console.text().contains("VESSEL-INIT: shell ready") && System.nanoTime() < deadline
                    && vm.state() != VirtualMachine.State.ENDED) {
                Thread.sleep(200);
            }
            assertTrue(console.text().contains("VESSEL-INIT: shell ready"), "no shell:\n" + tail(console.text()));
            Thread.sleep(2000); // the shell's prompt follows the hint
            byte[] sleep = "echo mem > /sys/power/state; echo resumed-$((6*7))\n"
                    .getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            vm.sendConsoleInput(sleep, 0, sleep.length);
            long suspendDeadline = System.nanoTime() + 10L * 60 * 1_000_000_000L;
            while (vm.state() != VirtualMachine.State.SUSPENDED && System.nanoTime() < suspendDeadline
                    && vm.state() != VirtualMachine.State.ENDED && !console.text().contains("resumed-42")) {
                Thread.sleep(200);
            }
            assertEquals(VirtualMachine.State.SUSPENDED, vm.state(), "the guest did not suspend:\n" + tail(console.text()));
            long suspendedAt = System.nanoTime();
            System.out.printf("linux S3: suspended after %.1f s%n", (suspendedAt - t0) / 1e9);
            Thread.sleep(1000);
            assertTrue(!console.text().contains("resumed-42"), "the shell ran on while suspended:\n" + tail(console.text()));
            vm.resume(); // a wake event, as the API's PATCH /vm {"state": "Resumed"}
            long resumeDeadline = System.nanoTime() + 15L * 60 * 1_000_000_000L;
            while (!console.text().contains("resumed-42") && System.nanoTime() < resumeDeadline
                    && vm.state() != VirtualMachine.State.ENDED) {
                Thread.sleep(200);
            }
            System.out.printf("linux S3: resumed %.1f s after the wake%n", (System.nanoTime() - suspendedAt) / 1e9);
            assertTrue(console.text().contains("resumed-42"), "no shell after the wake:\n" + tail(console.text()));
            byte[] typed = "echo cpus-$(cat /sys/devices/system/cpu/online)\npoweroff\n"
                    .getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            vm.sendConsoleInput(typed, 0, typed.length);
            VmExit exit = vm.awaitExit(10L * 60 * 1000);
            String out = console.text();
            assertTrue(exit != null, "no power-off after the wake:\n" + tail(out));
            assertTrue(out.contains("cpus-0-1"), "the second CPU did not come back:\n" + tail(out));
            assertEquals(VmExit.Reason.POWER_OFF, exit.reason(), tail(out));
        }
    }

    @Test
    @Timeout(value = 20, unit = java.util.concurrent.TimeUnit.MINUTES)
    void inGuestDecompressionReachesTheKernelsFirstLine() throws Exception {
        GuestRunTest.Console console = new GuestRunTest.Console();
        VmConfig config = VmConfig.builder().kernel(DefaultImage.file("vmlinuz")).memory("512M")
                .decompress(VmConfig.KernelDecompress.GUEST).cmdline("console=ttyS0 earlyprintk=ttyS0").build();
        long t0 = System.nanoTime();
        try (VirtualMachine vm = VirtualMachine.create(config, console)) {
            vm.start();
            long deadline = System.nanoTime() + 18L * 60 * 1_000_000_000L;
            while (!console.text().contains("Linux version") && System.nanoTime() < deadline
                    && vm.state() != VirtualMachine.State.ENDED) {
                Thread.sleep(200);
            }
            System.out.printf("linux boot (guest decompression) reached its first line after %.1f s%n",
                    (System.nanoTime() - t0) / 1e9);
            assertTrue(console.text().contains("Linux version"), "no kernel output:\n" + tail(console.text()));
            vm.stop();
        }
    }

    static String tail(String s) {
        return s.length() <= 3000 ? s : "..." + s.substring(s.length() - 3000);
    }
}
