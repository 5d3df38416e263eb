package vessel.vmm;

import java.nio.file.Files;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import vessel.testkit.DefaultImage;
import vessel.testkit.RequiresKvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Boots Debian's unmodified cloud kernel. A stock boot takes many minutes on hosts whose KVM emulates
 * guest code, so everything Linux-level is checked in one boot: the guest's /init runs the checks
 * ("vessel.check" on the command line) and prints the results, then the test types into its shell.
 */
@vessel.testkit.KvmTest
class LinuxBootTest {
    @BeforeEach
    void kvm() {
        RequiresKvm.assumeKvm();
    }

    private static String cmdline() throws Exception {
        return Files.readString(DefaultImage.file("cmdline")).strip();
    }

    @Test
    @Timeout(value = 60, unit = java.util.concurrent.TimeUnit.MINUTES)
    void stockKernelBootsToInitWithTwoCpusAndAWorkingShell() throws Exception {
        GuestRunTest.Console console = new GuestRunTest.Console();
        VmConfig config = VmConfig.builder().kernel(DefaultImage.file("vmlinuz"))
                .initrd(DefaultImage.file("initramfs.cpio.gz")).memory("512M").cpus(2)
                .cmdline(cmdline() + " vessel.check=none").build();
        long t0 = System.nanoTime();
        try (VirtualMachine vm = VirtualMachine.create(config, console)) {
            vm.start();
            // After its checks /init starts the interactive shell; type into it through the serial
            // console (the UART's receive path and Linux's 8250 driver), then power off from it.
            long deadline = System.nanoTime() + 50L * 60 * 1_000_000_000L;
            while (!console.text().contains("VESSEL-INIT: shell ready") && System.nanoTime() < deadline
                    && vm.state() != VirtualMachine.State.ENDED) {
                Thread.sleep(200);
            }
            Thread.sleep(2000); // the shell's prompt follows the hint
            byte[] typed = "echo shell-ok-$((6*7))\npoweroff -f\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            vm.sendConsoleInput(typed, 0, typed.length);
            VmExit exit = vm.awaitExit(5L * 60 * 1000);
            String out = console.text();
            System.out.printf("linux boot (host decompression) ended after %.1f s: %s%n",
                    (System.nanoTime() - t0) / 1e9, exit);
            assertTrue(exit != null, "no power-off; console:\n" + tail(out));
            assertTrue(out.contains("VESSEL-INIT: started"), "/init did not run:\n" + tail(out));
            assertTrue(out.contains("VESSEL-CHECK nproc=2"), "guest did not bring both CPUs online:\n" + tail(out));
            long memKb = Long.parseLong(out.replaceAll("(?s).*VESSEL-CHECK memtotal_kb=(\\d+).*", "$1"));
            assertTrue(memKb > 400_000 && memKb <= 512 * 1024, "MemTotal " + memKb + " kB for a 512 MiB guest");
            assertTrue(out.contains("shell-ok-42"), "the shell did not answer typed input:\n" + tail(out));
            assertEquals(VmExit.Reason.POWER_OFF, exit.reason(), out);
            assertEquals(0, exit.status());
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
