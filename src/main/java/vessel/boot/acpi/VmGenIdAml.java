package vessel.boot.acpi;

/**
 * QEMU's "VM Generation ID" device in AML: {@code _HID "QEMUVGID"}, {@code _CID "VM_Gen_Counter"} (what
 * Linux's vmgenid driver and Windows match), and {@code ADDR} returning the 16-byte GUID's guest address as
 * a package of its low and high dwords. The GUID lives in guest memory the E820 map reserves; a new one
 * there tells the guest it runs as another copy (a restored snapshot, a clone), so it can reseed its RNG.
 *
 * <p>The guest learns of a new GUID through {@code Notify(\_SB.VGEN, 0x80)}, which Linux's vmgenid driver
 * answers by reading it again and reseeding ("crng reseeded due to virtual machine fork"). A hardware-reduced
 * platform has no GPE block to run that Notify from, so, as Firecracker and Cloud Hypervisor do, a Generic
 * Event Device ({@code ACPI0013}, ACPI 6.5 section 5.6.9; Linux's drivers/acpi/evged.c) owns an edge
 * interrupt: the VMM pulses it after a restore, and the GED's {@code _EVT} runs the Notify.
 */
public final class VmGenIdAml {
    /** The ACPI notification value that means "the generation ID changed". */
    static final int GENERATION_CHANGED = 0x80;

    private VmGenIdAml() {}

    /** The VGEN device alone. */
    public static byte[] device(long guidAddress) {
        return Aml.device("VGEN",
                Aml.name("_HID", Aml.string("QEMUVGID")),
                Aml.name("_CID", Aml.string("VM_Gen_Counter")),
                Aml.method("ADDR", 0, false, Aml.returnValue(Aml.packageOf(
                        Aml.integer(guidAddress & 0xffff_ffffL), Aml.integer(guidAddress >>> 32)))));
    }

    /**
     * VGEN and the Generic Event Device that notifies it when ISA interrupt {@code gsi} (edge, active high,
     * not shared: nothing else may use it) is pulsed.
     */
    public static byte[] devicesWithNotify(long guidAddress, int gsi) {
        if (gsi < 0 || gsi > 15) {
            throw new IllegalArgumentException("the generation ID's notify interrupt is an ISA IRQ (0-15), not " + gsi);
        }
        return Aml.concat(device(guidAddress), Aml.device("GED0",
                Aml.name("_HID", Aml.string("ACPI0013")),
                Aml.name("_UID", Aml.integer(0)),
                Aml.name("_CRS", new ResourceTemplate()
                        .irq(ResourceTemplate.Trigger.EDGE, ResourceTemplate.Polarity.ACTIVE_HIGH, false, gsi).toAml()),
                // Linux calls _EVT with the interrupt's GSI as Arg0.
                Aml.method("_EVT", 1, true,
                        Aml.ifThen(Aml.lEqual(Aml.arg(0), Aml.integer(gsi)),
                                Aml.notify("\\_SB.VGEN", GENERATION_CHANGED)))));
    }
}
