package vessel.boot.acpi;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * What the ACPI tables describe: the vCPUs, the interrupt controllers, extra AML devices for the
 * {@code \_SB} scope, the PCI ECAM window when there is one (an MCFG table is written only then), and
 * the platform's {@link Shape}.
 */
public record AcpiPlatform(int cpus, long localApicAddress, long ioApicAddress, int ioApicId,
                           List<byte[]> systemBusDevices, Optional<Mcfg> pciEcam, Shape shape) {
    /** Which ACPI hardware the platform has, and so what the FADT, the MADT and the DSDT say. */
    public enum Shape {
        /**
         * No fixed hardware: no PM1 blocks, no SCI, no FACS; power-off and reset through one register at
         * {@link Fadt#POWER_REGISTER_PORT}. Linux then leaves the 8259s and the PIT alone. The default.
         */
        HARDWARE_REDUCED,
        /** PM1a blocks, an SCI with its MADT override, a FACS and {@code \_S3}: suspend to RAM. */
        SLEEP_STATES,
        /**
         * A PC's, as QEMU's {@code pc} machine has it: PM1a blocks, an SCI, a FACS, on which Linux sets up
         * the 8259s and the PIT itself; the reset register at {@link Fadt#PC_RESET_PORT}, off the VGA
         * ports, as the firmware reports a VGA text console whose attribute port (0x3C0) Linux's vgacon
         * writes 0 to 15 to; no {@code \_S3}, as the VMM does not track a FACS the firmware placed.
         */
        PC;

        public boolean fixedHardware() {
            return this != HARDWARE_REDUCED;
        }
    }

    public AcpiPlatform {
        systemBusDevices = List.copyOf(systemBusDevices);
        Objects.requireNonNull(pciEcam, "pciEcam");
        Objects.requireNonNull(shape, "shape");
        new Madt(cpus, localApicAddress, ioApicAddress, ioApicId, shape.fixedHardware()); // validates the same fields, early
    }

    /** {@code cpus} vCPUs on KVM's in-kernel local APICs and I/O APIC at their default addresses, no PCI. */
    public static AcpiPlatform forCpus(int cpus) {
        return new AcpiPlatform(cpus, Madt.DEFAULT_LOCAL_APIC_ADDRESS, Madt.DEFAULT_IO_APIC_ADDRESS,
                Madt.DEFAULT_IO_APIC_ID, List.of(), Optional.empty(), Shape.HARDWARE_REDUCED);
    }

    /** This platform with one more AML device (a complete {@code Device} term) under {@code \_SB}. */
    public AcpiPlatform withSystemBusDevice(byte[] device) {
        List<byte[]> devices = new ArrayList<>(systemBusDevices);
        devices.add(device.clone());
        return new AcpiPlatform(cpus, localApicAddress, ioApicAddress, ioApicId, devices, pciEcam, shape);
    }

    /** This platform with a PCI ECAM window, described by an MCFG table. */
    public AcpiPlatform withPciEcam(Mcfg ecam) {
        return new AcpiPlatform(cpus, localApicAddress, ioApicAddress, ioApicId, systemBusDevices,
                Optional.of(ecam), shape);
    }

    /** This platform with sleep states: PM1a event and control blocks, an SCI, a FACS and {@code \_S3}. */
    public AcpiPlatform withSleepStates() {
        return withShape(Shape.SLEEP_STATES);
    }

    /** This platform as a PC's ({@link Shape#PC}): what a firmware boot gets. */
    public AcpiPlatform withPcFixedHardware() {
        return withShape(Shape.PC);
    }

    private AcpiPlatform withShape(Shape s) {
        return new AcpiPlatform(cpus, localApicAddress, ioApicAddress, ioApicId, systemBusDevices, pciEcam, s);
    }

    /** PM1a blocks, an SCI (with its MADT override) and a FACS. */
    public boolean fixedHardware() {
        return shape.fixedHardware();
    }

    /** {@code \_S3} in the DSDT. */
    public boolean suspendToRam() {
        return shape == Shape.SLEEP_STATES;
    }

    Madt madt() {
        return new Madt(cpus, localApicAddress, ioApicAddress, ioApicId, shape.fixedHardware());
    }
}
