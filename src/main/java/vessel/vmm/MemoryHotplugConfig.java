package vessel.vmm;

/**
 * Hot-pluggable memory as configured (Firecracker's MemoryHotplugConfig): a virtio-mem device with a region of
 * {@code totalSizeMib} above guest RAM, plugged by the guest in blocks of {@code blockSizeMib} toward what the host
 * requests (none at boot). {@code slotSizeMib} is Firecracker's unit of KVM slots; Vessel maps the region as one
 * slot and only checks and reports it.
 */
public record MemoryHotplugConfig(long totalSizeMib, long blockSizeMib, long slotSizeMib) {
    public static final long DEFAULT_BLOCK_SIZE_MIB = 2;
    public static final long DEFAULT_SLOT_SIZE_MIB = 128;
    /** 1 TiB: the region is reserved address space in this process and in the guest's physical map. */
    public static final long MAX_TOTAL_SIZE_MIB = 1L << 20;

    /** Firecracker's checks and words, in its order; then Vessel's own limit. */
    public void validate() throws ConfigException {
        if (blockSizeMib < DEFAULT_BLOCK_SIZE_MIB) {
            throw new ConfigException("Block size must not be lower than " + DEFAULT_BLOCK_SIZE_MIB + " MiB");
        }
        if (Long.bitCount(blockSizeMib) != 1) {
            throw new ConfigException("Block size must be a power of 2");
        }
        if (slotSizeMib < DEFAULT_SLOT_SIZE_MIB) {
            throw new ConfigException("Slot size must not be lower than " + DEFAULT_SLOT_SIZE_MIB + " MiB");
        }
        if (slotSizeMib % blockSizeMib != 0) {
            throw new ConfigException("Slot size must be a multiple of block size (" + blockSizeMib + " MiB)");
        }
        if (totalSizeMib < slotSizeMib) {
            throw new ConfigException("Total size must not be lower than slot size (" + slotSizeMib + " MiB)");
        }
        if (totalSizeMib % slotSizeMib != 0) {
            throw new ConfigException("Total size must be a multiple of slot size (" + slotSizeMib + " MiB)");
        }
        if (totalSizeMib > MAX_TOTAL_SIZE_MIB) {
            throw new ConfigException("Total size must not be more than " + MAX_TOTAL_SIZE_MIB + " MiB");
        }
    }

    public long totalBytes() {
        return totalSizeMib << 20;
    }

    public long blockBytes() {
        return blockSizeMib << 20;
    }

    public long slotBytes() {
        return slotSizeMib << 20;
    }
}
