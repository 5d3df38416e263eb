package vessel.vmm;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import vessel.testkit.DefaultImage;
import vessel.testkit.NativeTools;
import vessel.testkit.RequiresKvm;
import vessel.vmm.snapshot.VmSnapshot;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A restored VM is another generation, and a running Linux hears of it: the ACPI Generic Event Device's
 * interrupt, pulsed after the restore, runs Notify(\_SB.VGEN, 0x80), and Linux's vmgenid driver reads the new
 * ID and reseeds its RNG ("crng reseeded due to virtual machine fork"). The default guest's cloud kernel has no
 * vmgenid driver (CONFIG_VIRT_DRIVERS is off there), so this boots Debian's generic kernel, the one
 * scripts/disk-image.sh fetched for the firmware disk, with the default initramfs (its modules are the cloud
 * kernel's and fail to load: only the console is needed).
 */
@vessel.testkit.LinuxGuestTest
class VmGenerationIdLinuxTest {
    @BeforeEach
    void kvm() {
        RequiresKvm.assumeLinuxGuests();
    }

    /** Debian's generic kernel, out of the .deb scripts/disk-image.sh keeps. */
    private static Path genericKernel(Path dir) throws Exception {
        String env = System.getenv("VESSEL_DISK_DIR");
        Path debs = (env != null ? Path.of(env) : NativeTools.projectDir().resolve(".cache/disk")).resolve("debs");
        Path deb;
        try (var files = Files.list(debs)) {
            deb = files.filter(p -> p.getFileName().toString().matches("linux-image-[0-9].*-amd64_.*\\.deb"))
                    .findFirst().orElse(null);
        } catch (java.nio.file.NoSuchFileException e) {
            deb = null;
        }
        assertTrue(deb != null, "no generic kernel .deb in " + debs + " (scripts/disk-image.sh fetches it; scripts/test runs it)");
        // The kernel alone: the whole package is 400 MB unpacked, and the nested VM's /tmp is RAM.
        NativeTools.run(List.of("sh", "-c", "dpkg-deb --fsys-tarfile \"$1\" | tar -x --wildcards './boot/vmlinuz-*'",
                "sh", deb.toString()), dir);
        try (var files = Files.list(dir.resolve("boot"))) {
            return files.filter(p -> p.getFileName().toString().startsWith("vmlinuz-")).findFirst().orElseThrow();
        }
    }

    @Test
    void aRestoredGuestReseedsItsRandomNumberGeneratorWhenToldOfItsNewGeneration(@TempDir Path tmp) throws Exception {
        Path kernel = genericKernel(Files.createDirectories(tmp.resolve("kernel")));
        Path state = tmp.resolve("vmgenid.state");
        Path mem = tmp.resolve("vmgenid.mem");
        VmConfig config = VmConfig.builder().kernel(kernel).initrd(DefaultImage.file("initramfs.cpio.gz"))
                .memory("256M").cmdline(Files.readString(DefaultImage.file("cmdline")).strip()).build();
        GuestRunTest.Console console = new GuestRunTest.Console();
        try (VirtualMachine vm = VirtualMachine.create(config, console)) {
            vm.start();
            GuestShell shell = new GuestShell(vm, console);
            shell.await("VESSEL-INIT: shell ready", 50);
            Thread.sleep(2000);
            // The driver took the device: Linux matched it by its _CID "VM_Gen_Counter" (ACPICA upper-cases it).
            shell.type("echo bound=$(ls /sys/bus/acpi/drivers/vmgenid | grep -c '^QEMUVGID:') forks$((0))=$(dmesg | grep -c 'virtual machine fork')\n");
            shell.await("bound=1 forks0=0", 5);
            vm.pause();
            vm.snapshot(state, mem, VmSnapshot.Type.FULL);
        }
        GuestRunTest.Console restored = new GuestRunTest.Console();
        try (VirtualMachine vm = VirtualMachine.restore(state, mem, restored, RestoreOverrides.NONE)) {
            vm.start();
            // The notification is handled in the guest's own time: ask until the reseed is there.
            long deadline = System.nanoTime() + 10L * 60_000_000_000L;
            int asked = 0;
            while (!restored.text().contains("forks1=1") && System.nanoTime() < deadline) {
                new GuestShell(vm, restored).type("echo forks$((1))=$(dmesg | grep -c 'virtual machine fork')\n");
                asked++;
                Thread.sleep(5000);
            }
            String out = restored.text();
            assertTrue(out.contains("forks1=1"), "the restored guest did not reseed for a VM fork (" + asked
                    + " times asked); console:\n" + out.substring(Math.max(0, out.length() - 3000)));
            new GuestShell(vm, restored).type("poweroff\n");
            VmExit exit = vm.awaitExit(5L * 60 * 1000);
            assertTrue(exit != null && exit.reason() == VmExit.Reason.POWER_OFF, exit + "\n" + restored.text());
        }
    }
}
