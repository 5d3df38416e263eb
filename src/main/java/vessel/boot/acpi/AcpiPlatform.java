package vessel.boot.acpi;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * What the ACPI tables describe: the vCPUs, the interrupt controllers, extra AML devices for the
 * {@code \_SB} scope, and the PCI ECAM window when there is one (an MCFG table is written only then).
 */
public record AcpiPlatform(int cpus, long localApicAddress, long ioApicAddress, int ioApicId,
                           List<byte[]> systemBusDevices, Optional<Mcfg> pciEcam) {
    public AcpiPlatform {
        systemBusDevices = List.copyOf(systemBusDevices);
        Objects.requireNonNull(pciEcam, "pciEcam");
        new Madt(cpus, localApicAddress, ioApicAddress, ioApicId); // validates the same fields, early
    }

    /** {@code cpus} vCPUs on KVM's in-kernel local APICs and I/O APIC at their default addresses, no PCI. */
    public static AcpiPlatform forCpus(int cpus) {
        return new AcpiPlatform(cpus, Madt.DEFAULT_LOCAL_APIC_ADDRESS, Madt.DEFAULT_IO_APIC_ADDRESS,
                Madt.DEFAULT_IO_APIC_ID, List.of(), Optional.empty());
    }

    /** This platform with one more AML device (a complete {@code Device} term) under {@code \_SB}. */
    public AcpiPlatform withSystemBusDevice(byte[] device) {
        List<byte[]> devices = new ArrayList<>(systemBusDevices);
        devices.add(device.clone());
        return new AcpiPlatform(cpus, localApicAddress, ioApicAddress, ioApicId, devices, pciEcam);
    }

    /** This platform with a PCI ECAM window, described by an MCFG table. */
    public AcpiPlatform withPciEcam(Mcfg ecam) {
        return new AcpiPlatform(cpus, localApicAddress, ioApicAddress, ioApicId, systemBusDevices,
                Optional.of(ecam));
    }

    Madt madt() {
        return new Madt(cpus, localApicAddress, ioApicAddress, ioApicId);
    }
}
