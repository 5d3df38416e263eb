package vessel.memory;

/** An access to guest physical memory that is not wholly inside guest RAM. */
public final class GuestMemoryException extends RuntimeException {
    private final long address;
    private final long length;

    public GuestMemoryException(long address, long length) {
        super("guest memory access outside RAM: 0x" + Long.toHexString(address) + " + " + length);
        this.address = address;
        this.length = length;
    }

    public long address() {
        return address;
    }

    public long length() {
        return length;
    }
}
