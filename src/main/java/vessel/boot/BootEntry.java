package vessel.boot;

/**
 * How the boot CPU starts: its mode, where it starts, the registers a boot protocol passes values in
 * (multiboot: EAX magic, EBX info; Linux: RSI boot_params), and the GDT selectors for code and data
 * (the test guests' convention is 0x08/0x10; Linux's boot protocol wants __BOOT_CS 0x10, __BOOT_DS 0x18).
 * For {@link EntryMode#REAL}, {@code rip} is a physical address below 1 MiB, entered as segment
 * {@code rip >> 4}, offset {@code rip & 0xf}.
 */
public record BootEntry(EntryMode mode, long rip, long rsp, long rax, long rbx, long rsi,
                        int codeSelector, int dataSelector) {
    public static final int FLAT_CODE = 0x08;
    public static final int FLAT_DATA = 0x10;

    public BootEntry {
        if (codeSelector == dataSelector || codeSelector % 8 != 0 || dataSelector % 8 != 0
                || codeSelector == 0 || dataSelector == 0 || Math.max(codeSelector, dataSelector) > 0x38) {
            throw new IllegalArgumentException("bad GDT selectors " + codeSelector + "/" + dataSelector);
        }
    }

    public static BootEntry at(EntryMode mode, long rip) {
        return new BootEntry(mode, rip, GuestLayout.STACK_TOP, 0, 0, 0, FLAT_CODE, FLAT_DATA);
    }
}
