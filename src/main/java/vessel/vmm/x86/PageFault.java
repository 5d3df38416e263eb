package vessel.vmm.x86;

/**
 * An access the CPU would have refused with a page fault: the guest gets #PF with {@code address} in
 * CR2 and {@code errorCode} pushed, exactly as if the instruction had run on the CPU.
 */
public final class PageFault extends Exception {
    public static final int PRESENT = 1;
    public static final int WRITE = 1 << 1;
    public static final int USER = 1 << 2;

    private final long address;
    private final int errorCode;

    public PageFault(long address, int errorCode) {
        super(String.format("page fault at 0x%x, error code 0x%x", address, errorCode), null, false, false);
        this.address = address;
        this.errorCode = errorCode;
    }

    public long address() {
        return address;
    }

    public int errorCode() {
        return errorCode;
    }
}
