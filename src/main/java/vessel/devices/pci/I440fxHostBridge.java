package vessel.devices.pci;

import vessel.devices.BusDevice;

/**
 * Device 00:00.0 as firmware built for QEMU's {@code pc} machine expects it: Intel's 440FX host bridge
 * (8086:1237) with QEMU's subsystem IDs (1af4:1100), which SeaBIOS takes as "running on QEMU", and the
 * PAM registers (0x59-0x5F) through which firmware turns the BIOS area below 1 MiB from ROM into RAM
 * and back. The bridge keeps the registers; what they map is the listener's business.
 *
 * <p>PAM layout (Intel 440FX datasheet, 3.2.18): each nibble governs one segment, bit 0 read enable and
 * bit 1 write enable (reads and writes go to RAM when set, to the ROM or bus otherwise). PAM0's high
 * nibble covers 0xF0000-0xFFFFF; PAM1-PAM6 cover 0xC0000-0xEFFFF in 16 KiB segments, low nibble first.
 */
public final class I440fxHostBridge implements PciFunction {
    public static final int VENDOR = 0x8086;
    public static final int DEVICE = 0x1237;
    /** QEMU's subsystem vendor (Red Hat) and device ("QEMU virtual machine"). */
    public static final int SUBSYSTEM_VENDOR = 0x1af4;
    public static final int SUBSYSTEM = 0x1100;
    public static final int PAM0 = 0x59;
    public static final int PAM_COUNT = 7;

    /** Told the seven PAM registers after any write that touched them. */
    @FunctionalInterface
    public interface PamListener {
        void pamChanged(int[] pam);
    }

    private final PciConfigSpace config = new PciConfigSpace(VENDOR, DEVICE, 0x060000, 2, SUBSYSTEM_VENDOR, SUBSYSTEM);
    private final PamListener listener;

    public I440fxHostBridge(PamListener listener) {
        this.listener = listener;
        config.allowWrites(PAM0, 0x30); // PAM0's low nibble is reserved
        for (int i = 1; i < PAM_COUNT; i++) {
            config.allowWrites(PAM0 + i, 0x33);
        }
    }

    @Override
    public String name() {
        return "i440fx-host-bridge";
    }

    @Override
    public PciConfigSpace config() {
        return config;
    }

    @Override
    public BusDevice barDevice(int index) {
        throw new IllegalArgumentException("the host bridge has no BARs");
    }

    @Override
    public void configWritten(int offset, int size) {
        if (offset < PAM0 + PAM_COUNT && offset + size > PAM0) {
            listener.pamChanged(pam());
        }
    }

    public int[] pam() {
        int[] pam = new int[PAM_COUNT];
        for (int i = 0; i < PAM_COUNT; i++) {
            pam[i] = config.read(PAM0 + i, 1);
        }
        return pam;
    }

    /** The PAM nibble (bit 0 read RAM, bit 1 write RAM) for the segment holding {@code address} in 0xC0000-0xFFFFF. */
    public static int pamBits(int[] pam, long address) {
        if (address >= 0xf0000 && address < 0x100000) {
            return (pam[0] >>> 4) & 3;
        }
        if (address < 0xc0000 || address >= 0xf0000) {
            throw new IllegalArgumentException("0x" + Long.toHexString(address) + " is not in a PAM segment");
        }
        int segment = (int) ((address - 0xc0000) >>> 14); // 16 KiB segments, 12 of them
        return (pam[1 + segment / 2] >>> (segment % 2 == 0 ? 0 : 4)) & 3;
    }
}
