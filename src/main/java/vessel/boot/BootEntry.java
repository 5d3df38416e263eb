package vessel.boot;

/**
 * How the boot CPU starts: its mode, where it starts, and the registers a boot protocol passes values
 * in (multiboot: EAX magic, EBX info; Linux: RSI boot_params). For {@link EntryMode#REAL}, {@code rip}
 * is a physical address below 1 MiB, entered as segment {@code rip >> 4}, offset {@code rip & 0xf}.
 */
public record BootEntry(EntryMode mode, long rip, long rsp, long rax, long rbx, long rsi) {
    public static BootEntry at(EntryMode mode, long rip) {
        return new BootEntry(mode, rip, GuestLayout.STACK_TOP, 0, 0, 0);
    }
}
