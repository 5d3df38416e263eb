package vessel.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import org.junit.jupiter.api.Test;

import vessel.testkit.NativeTools;
import vessel.testkit.RequiresKvm;
import vessel.testkit.TestFirmware;
import vessel.testkit.TestGuests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * SeaBIOS boots a disk as a PC does: it finds the virtio-blk disk with its own driver, reads its first
 * sector to 0x7C00 and jumps there. About 25 s of SeaBIOS on a kvm_pvm host (real-mode and 32-bit
 * firmware code in KVM's emulator; SeaBIOS clearing low memory before the boot takes 6 s of it), a
 * second on hardware.
 */
@vessel.testkit.KvmTest
class FirmwareBootKvmTest {
    private static Path disk(String name, byte[] firstSector) throws Exception {
        Path dir = Files.createDirectories(NativeTools.projectDir().resolve("target/firmware-test"));
        Path disk = dir.resolve(name);
        byte[] image = Arrays.copyOf(firstSector, 1 << 20);
        Files.write(disk, image);
        return disk;
    }

    @Test
    void seabiosLoadsABootSectorFromAVirtioBlkDiskAndRunsIt() throws Exception {
        RequiresKvm.assumeKvm();
        byte[] sector = Files.readAllBytes(TestGuests.get("bootsector.bin"));
        assertEquals(512, sector.length);
        Path disk = disk("boot.img", sector);
        CliTest.Result r = CliTest.vessel("run", "--firmware", TestFirmware.seabios().toString(),
                "--drive", "path=" + disk, "--debug-exit");
        // SeaBIOS's banner comes through its serial console (fw_cfg etc/sercon-port), then the sector's own line.
        assertTrue(r.out().contains("SeaBIOS (version"), r.out());
        assertTrue(r.out().contains("Booting from Hard Disk"), r.out());
        assertTrue(r.out().endsWith("vessel boot sector ok\n"), r.out());
        assertEquals(67, r.status(), r.err());
    }

    /**
     * A boot sector that gives up as a PC's MBR code does with no active partition: {@code int 0x18}, which
     * makes SeaBIOS try the next boot entry; there is none, so it prints "No bootable device." and would
     * retry after a reset. Vessel ends instead, with one line and a failure status.
     */
    @Test
    void noBootableDeviceEndsTheRunWithOneLineAndAFailureStatus() throws Exception {
        RequiresKvm.assumeKvm();
        byte[] sector = new byte[512];
        sector[0] = (byte) 0xcd; // int $0x18: boot failure, try the next device
        sector[1] = 0x18;
        sector[2] = (byte) 0xeb; // jmp . (not reached)
        sector[3] = (byte) 0xfe;
        sector[510] = 0x55;
        sector[511] = (byte) 0xaa;
        Path disk = disk("gives-up.img", sector);
        CliTest.Result r = CliTest.vessel("run", "--quiet", "--firmware", TestFirmware.seabios().toString(),
                "--drive", "path=" + disk);
        assertTrue(r.out().contains("Booting from Hard Disk"), r.out());
        assertTrue(r.out().contains("No bootable device."), r.out());
        assertEquals(1, r.status(), r.out() + r.err());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(r.err().startsWith("vessel: no bootable device: "), r.err());
        assertTrue(r.err().contains(disk.toString()), r.err());
    }
}
