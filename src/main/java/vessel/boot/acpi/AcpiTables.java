package vessel.boot.acpi;

import java.util.ArrayList;
import java.util.List;

import vessel.memory.GuestMemory;

/**
 * Writes a platform's ACPI tables into guest memory: the RSDP first, at the 16-byte-aligned base (where
 * a guest that scans 0xE0000-0xFFFFF for it will find it), then the DSDT, FADT, MADT, MCFG if any, the
 * XSDT that lists them, and last, on a platform with ACPI's fixed hardware, the FACS (which the FADT points at,
 * not the XSDT). Each table starts 16-byte aligned, the FACS 64-byte aligned as it must.
 */
public final class AcpiTables {
    /** The RSDP must lie on a 16-byte boundary to be found by a scan; the tables follow that alignment. */
    public static final int ALIGNMENT = 16;

    private AcpiTables() {}

    /**
     * Where the tables went: the RSDP's address (also for boot_params.acpi_rsdp_addr), the FACS's (0 when
     * the platform is hardware-reduced and has none) and the range {@code [start, end)} they occupy,
     * which the memory map must report as reserved.
     */
    public record Placement(long rsdpAddress, long facsAddress, long start, long end) {
        public long size() {
            return end - start;
        }
    }

    /** Writes the tables for {@code platform} from {@code base}; the range is zeroed first, gaps included. */
    public static Placement write(GuestMemory memory, long base, AcpiPlatform platform) {
        if (base < 0 || base % ALIGNMENT != 0) {
            throw new IllegalArgumentException("the RSDP needs a 16-byte-aligned address, not 0x" + Long.toHexString(base));
        }
        byte[] dsdt = new Dsdt(platform.systemBusDevices(), platform.suspendToRam()).toBytes();
        byte[] madt = platform.madt().toBytes();
        byte[] mcfg = platform.pciEcam().map(Mcfg::toBytes).orElse(null);

        long dsdtAddress = align(base + Rsdp.LENGTH);
        long fadtAddress = align(dsdtAddress + dsdt.length);
        long madtAddress = align(fadtAddress + Fadt.LENGTH);
        long next = align(madtAddress + madt.length);
        List<Long> listed = new ArrayList<>(List.of(fadtAddress, madtAddress));
        long mcfgAddress = 0;
        if (mcfg != null) {
            mcfgAddress = next;
            listed.add(mcfgAddress);
            next = align(mcfgAddress + mcfg.length);
        }
        long xsdtAddress = next;
        byte[] xsdt = new Xsdt(listed).toBytes();
        long facsAddress = 0;
        long end = xsdtAddress + xsdt.length;
        if (platform.fixedHardware()) {
            facsAddress = (end + Facs.ALIGNMENT - 1) & -Facs.ALIGNMENT;
            end = facsAddress + Facs.LENGTH;
        }

        memory.fill(base, end - base, (byte) 0);
        memory.write(base, new Rsdp(xsdtAddress).toBytes());
        memory.write(dsdtAddress, dsdt);
        Fadt fadt = switch (platform.shape()) {
            case HARDWARE_REDUCED -> Fadt.hardwareReduced(dsdtAddress);
            case SLEEP_STATES -> Fadt.withSleepStates(dsdtAddress, facsAddress);
            case PC -> Fadt.pc(dsdtAddress, facsAddress);
        };
        memory.write(fadtAddress, fadt.toBytes());
        memory.write(madtAddress, madt);
        if (mcfg != null) {
            memory.write(mcfgAddress, mcfg);
        }
        memory.write(xsdtAddress, xsdt);
        if (platform.fixedHardware()) {
            memory.write(facsAddress, new Facs(0).toBytes());
        }
        return new Placement(base, facsAddress, base, end);
    }

    private static long align(long address) {
        return (address + ALIGNMENT - 1) & -ALIGNMENT;
    }
}
