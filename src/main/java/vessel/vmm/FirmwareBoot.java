package vessel.vmm;

import java.util.ArrayList;
import java.util.List;

import vessel.boot.GuestLayout;
import vessel.boot.acpi.AcpiPlatform;
import vessel.boot.firmware.FirmwareAcpi;
import vessel.boot.firmware.Smbios;
import vessel.devices.firmware.FwCfg;
import vessel.memory.GuestMemory;
import vessel.memory.MemoryRegion;

/**
 * What a VM booted through SeaBIOS offers it through fw_cfg, as QEMU's {@code pc} machine does
 * (QEMU hw/i386/fw_cfg.c, hw/i386/pc.c; SeaBIOS src/fw/paravirt.c reads them): CPU and RAM counts, the
 * memory map ({@code etc/e820}), the ACPI tables with their loader, the SMBIOS tables, the boot order,
 * the serial console and how long to wait before retrying a failed boot.
 */
final class FirmwareBoot {
    /**
     * KVM's identity-map page and real-mode TSS where QEMU puts them: just below a 16 MiB ROM, so no
     * firmware image can overlap them (Vessel's direct-boot addresses sit below a 256 KiB one).
     */
    static final long KVM_IDENTITY_MAP = 0xfeff_c000L;
    static final long KVM_TSS = KVM_IDENTITY_MAP + 0x1000;
    static final long KVM_PAGES_SIZE = 0x4000;
    /** COM1, where SeaBIOS's serial console (sercon) writes what it would show on a screen. */
    static final int SERCON_PORT = 0x3f8;
    /**
     * How SeaBIOS's line starts when every boot entry failed (src/boot.c boot_fail); it goes to its debug
     * port too, where Vessel ends the VM on it.
     */
    static final String NO_BOOTABLE_DEVICE = "No bootable device.";
    /** How long SeaBIOS shows "No bootable device" before it resets (ms). */
    static final int BOOT_FAIL_WAIT_MS = 5000;
    /** The MBR's boot code: the bytes before the disk signature (440) and the partition table (446). */
    static final int MBR_CODE_SIZE = 440;
    static final int E820_RAM = 1;
    static final int E820_RESERVED = 2;

    private FirmwareBoot() {}

    /**
     * Refuses, with one line, a firmware boot that could only end in "No bootable device" or a hang: no
     * disk, a first disk whose first sector lacks the 0x55 0xAA signature every PC BIOS checks (a
     * partitioned disk with GRUB in its MBR has it), or one with a partition table and no boot code.
     * Reads one sector; writes nothing.
     */
    static void checkBootable(List<DriveConfig> drives) throws ConfigException {
        if (drives.isEmpty()) {
            throw new ConfigException("--firmware boots the first --drive, and none is given (--drive path=disk.img)");
        }
        DriveConfig first = drives.getFirst();
        java.nio.ByteBuffer sector = java.nio.ByteBuffer.allocate(512);
        try (vessel.devices.block.DiskImage disk = vessel.devices.block.DiskImage.open(first.path(), first.format(), true)) {
            if (disk.size() < 512) {
                throw new ConfigException("drive '" + first.id() + "': " + first.path() + " is smaller than one sector:"
                        + " nothing to boot");
            }
            disk.read(0, sector);
        } catch (java.io.IOException e) {
            throw new ConfigException("drive '" + first.id() + "': " + first.path() + ": " + e.getMessage());
        }
        if ((sector.get(510) & 0xff) != 0x55 || (sector.get(511) & 0xff) != 0xaa) {
            throw new ConfigException("drive '" + first.id() + "': " + first.path() + " is not bootable: its first sector"
                    + " has no boot signature (0x55 0xAA at byte 510), so the BIOS would not run it");
        }
        // A partitioning tool (sfdisk, fdisk) writes the table and the signature but no code: the BIOS would
        // jump into 440 zero bytes and run on through memory, hanging with nothing on the console.
        boolean noCode = true;
        for (int i = 0; i < MBR_CODE_SIZE && noCode; i++) {
            noCode = sector.get(i) == 0;
        }
        if (noCode) {
            throw new ConfigException("drive '" + first.id() + "': " + first.path() + " is not bootable: its first sector"
                    + " has a partition table but no boot loader (its first " + MBR_CODE_SIZE + " bytes are zero; install"
                    + " one, e.g. GRUB as scripts/disk-image.sh does)");
        }
    }

    /**
     * The ACPI tables a firmware boot hands SeaBIOS to place (etc/table-loader): a PC's, with ACPI's fixed
     * hardware (PM1 blocks, an SCI and its MADT override, a FACS), not the hardware-reduced ones of a direct
     * boot. SeaBIOS leaves the 8259s at their real-mode vectors, IRQ 0 (the PIT, still ticking) on vector 8,
     * with the local APIC's LINT0 in virtual-wire mode; Linux reprograms and masks them only on a platform
     * that is not hardware-reduced, and otherwise takes the first tick after it enables interrupts as a
     * double fault. {@code pciHostBridge} is the AML device of the PCI host bridge.
     */
    static AcpiPlatform acpiPlatform(int cpus, byte[] pciHostBridge) {
        return AcpiPlatform.forCpus(cpus)
                .withPcFixedHardware()
                .withPciEcam(PciDevices.mcfg())
                .withSystemBusDevice(pciHostBridge);
    }

    /** The fw_cfg items for this VM; {@code bootDiskSlots} are the PCI slots of its disks, in boot order. */
    static FwCfg fwCfg(GuestMemory memory, int cpus, AcpiPlatform acpi, List<Integer> bootDiskSlots) {
        FirmwareAcpi tables = FirmwareAcpi.build(acpi);
        Smbios smbios = smbios(memory, cpus);
        StringBuilder bootorder = new StringBuilder();
        for (int slot : bootDiskSlots) {
            // OpenFirmware device paths as QEMU writes them for virtio-blk-pci; SeaBIOS matches them by prefix.
            bootorder.append(String.format("/pci@i0cf8/scsi@%x/disk@0,0\n", slot));
        }
        return FwCfg.builder()
                .u16(FwCfg.NB_CPUS, cpus)
                .u16(FwCfg.MAX_CPUS, cpus)
                .u64(FwCfg.RAM_SIZE, memory.totalSize())
                .u16(FwCfg.NOGRAPHIC, 1)
                .u16(FwCfg.BOOT_MENU, 0)
                .item(FwCfg.UUID, new byte[16])
                .u64(FwCfg.NUMA, 0)
                .file("etc/e820", e820(memory))
                .file(FirmwareAcpi.TABLES_FILE, tables.tables())
                .file(FirmwareAcpi.RSDP_FILE, tables.rsdp())
                .file(FirmwareAcpi.LOADER_FILE, tables.loader())
                .file(Smbios.TABLES_FILE, smbios.tables())
                .file(Smbios.ANCHOR_FILE, smbios.anchor())
                .file("bootorder", bootorder.toString().getBytes(java.nio.charset.StandardCharsets.US_ASCII))
                .file("etc/sercon-port", le(SERCON_PORT, 2))
                .file("etc/boot-fail-wait", le(BOOT_FAIL_WAIT_MS, 4))
                // No "Press ESC for boot menu" and its 2.5 s wait: there is no keyboard to press it on.
                .file("etc/show-boot-menu", le(0, 2))
                .build(memory);
    }

    /** The SMBIOS tables: Vessel's system, a processor per vCPU, the RAM ranges, as etc/e820 reports them. */
    static Smbios smbios(GuestMemory memory, int cpus) {
        List<Smbios.RamRange> ram = new ArrayList<>();
        for (MemoryRegion r : memory.regions()) {
            ram.add(new Smbios.RamRange(r.guestBase(), r.size()));
        }
        return Smbios.build(cpus, ram, new byte[16]);
    }

    /**
     * etc/e820: RAM and what the firmware must keep out of it (SeaBIOS adds its own reservations, the
     * EBDA and BIOS area, itself). Entries are {@code u64 address, u64 length, u32 type}, packed.
     */
    static byte[] e820(GuestMemory memory) {
        List<long[]> entries = new ArrayList<>();
        for (MemoryRegion r : memory.regions()) {
            entries.add(new long[] {r.guestBase(), r.size(), E820_RAM});
        }
        // Linux uses the ECAM window only where firmware reserved it.
        entries.add(new long[] {GuestLayout.PCI_ECAM, GuestLayout.PCI_ECAM_SIZE, E820_RESERVED});
        entries.add(new long[] {KVM_IDENTITY_MAP, KVM_PAGES_SIZE, E820_RESERVED});
        byte[] out = new byte[entries.size() * 20];
        for (int i = 0; i < entries.size(); i++) {
            long[] e = entries.get(i);
            System.arraycopy(le(e[0], 8), 0, out, i * 20, 8);
            System.arraycopy(le(e[1], 8), 0, out, i * 20 + 8, 8);
            System.arraycopy(le(e[2], 4), 0, out, i * 20 + 16, 4);
        }
        return out;
    }

    static byte[] le(long value, int size) {
        byte[] b = new byte[size];
        for (int i = 0; i < size; i++) {
            b[i] = (byte) (value >>> (8 * i));
        }
        return b;
    }
}
