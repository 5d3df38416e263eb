package vessel.boot.acpi;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * What the ACPI tables describe: the vCPUs, the interrupt controllers, extra AML devices for the
 * {@code \_SB} scope, the PCI ECAM window when there is one (an MCFG table is written only then), and
 * whether the platform has ACPI's fixed hardware (PM1a blocks, an SCI and a FACS: a PC's, on which Linux
 * sets up the 8259s and the PIT itself), with {@code \_S3} where suspend to RAM is offered, or is
 * hardware-reduced (the default: Linux then leaves the 8259s and the PIT alone).
 *
 * @param fixedHardware PM1a blocks, an SCI (with its MADT override) and a FACS, as on a PC
 * @param suspendToRam  {@code \_S3} in the DSDT; only with {@code fixedHardware}
 */
public record AcpiPlatform(int cpus, long localApicAddress, long ioApicAddress, int ioApicId,
                           List<byte[]> systemBusDevices, Optional<Mcfg> pciEcam, boolean fixedHardware,
                           boolean suspendToRam) {
    public AcpiPlatform {
        systemBusDevices = List.copyOf(systemBusDevices);
        Objects.requireNonNull(pciEcam, "pciEcam");
        if (suspendToRam && !fixedHardware) {
            throw new IllegalArgumentException("suspend to RAM needs ACPI's fixed hardware (PM1 control, a FACS)");
        }
        new Madt(cpus, localApicAddress, ioApicAddress, ioApicId, fixedHardware); // validates the same fields, early
    }

    /** {@code cpus} vCPUs on KVM's in-kernel local APICs and I/O APIC at their default addresses, no PCI. */
    public static AcpiPlatform forCpus(int cpus) {
        return new AcpiPlatform(cpus, Madt.DEFAULT_LOCAL_APIC_ADDRESS, Madt.DEFAULT_IO_APIC_ADDRESS,
                Madt.DEFAULT_IO_APIC_ID, List.of(), Optional.empty(), false, false);
    }

    /** This platform with one more AML device (a complete {@code Device} term) under {@code \_SB}. */
    public AcpiPlatform withSystemBusDevice(byte[] device) {
        List<byte[]> devices = new ArrayList<>(systemBusDevices);
        devices.add(device.clone());
        return new AcpiPlatform(cpus, localApicAddress, ioApicAddress, ioApicId, devices, pciEcam, fixedHardware,
                suspendToRam);
    }

    /** This platform with a PCI ECAM window, described by an MCFG table. */
    public AcpiPlatform withPciEcam(Mcfg ecam) {
        return new AcpiPlatform(cpus, localApicAddress, ioApicAddress, ioApicId, systemBusDevices,
                Optional.of(ecam), fixedHardware, suspendToRam);
    }

    /** This platform with sleep states: PM1a event and control blocks, an SCI, a FACS and {@code \_S3}. */
    public AcpiPlatform withSleepStates() {
        return new AcpiPlatform(cpus, localApicAddress, ioApicAddress, ioApicId, systemBusDevices, pciEcam, true, true);
    }

    /**
     * This platform as a PC's (QEMU's {@code pc} machine): PM1a blocks, an SCI and a FACS, so that Linux
     * sets up the 8259s and the PIT itself; no {@code \_S3}, as the VMM could not find the waking vector in
     * a FACS the firmware placed.
     */
    public AcpiPlatform withPcFixedHardware() {
        return new AcpiPlatform(cpus, localApicAddress, ioApicAddress, ioApicId, systemBusDevices, pciEcam, true, false);
    }

    Madt madt() {
        return new Madt(cpus, localApicAddress, ioApicAddress, ioApicId, fixedHardware);
    }
}
