package vessel.boot.acpi;

/**
 * QEMU's "VM Generation ID" device in AML: {@code _HID "QEMUVGID"}, {@code _CID "VM_Gen_Counter"} (what
 * Linux's vmgenid driver and Windows match), and {@code ADDR} returning the 16-byte GUID's guest address as
 * a package of its low and high dwords. The GUID lives in guest memory the E820 map reserves; a new one
 * there tells the guest it runs as another copy (a restored snapshot, a clone), so it can reseed its RNG.
 */
public final class VmGenIdAml {
    private VmGenIdAml() {}

    public static byte[] device(long guidAddress) {
        return Aml.device("VGEN",
                Aml.name("_HID", Aml.string("QEMUVGID")),
                Aml.name("_CID", Aml.string("VM_Gen_Counter")),
                Aml.method("ADDR", 0, false, Aml.returnValue(Aml.packageOf(
                        Aml.integer(guidAddress & 0xffff_ffffL), Aml.integer(guidAddress >>> 32)))));
    }
}
