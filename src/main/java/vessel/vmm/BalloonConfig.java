package vessel.vmm;

/**
 * A virtio-balloon device as configured (Firecracker's balloon settings).
 *
 * @param targetMib            how much guest memory the balloon should hold at boot
 * @param deflateOnOom         offer VIRTIO_BALLOON_F_DEFLATE_ON_OOM: the guest may take pages back under memory pressure
 * @param statsIntervalSeconds 0: no statistics queue; else how often the guest is asked for statistics
 * @param freePageHinting      offer free page hinting (runs started through the API)
 * @param freePageReporting    offer free page reporting (the guest gives free pages back on its own)
 */
public record BalloonConfig(long targetMib, boolean deflateOnOom, int statsIntervalSeconds, boolean freePageHinting,
                            boolean freePageReporting) {
    /** The largest target: the balloon counts 4 KiB pages in a 32-bit field. */
    public static final long MAX_TARGET_MIB = 0xffff_ffffL >> 8;
    public static final int MAX_STATS_INTERVAL = 0xffff;

    void validate(long memoryBytes) throws ConfigException {
        if (targetMib < 0 || targetMib > MAX_TARGET_MIB) {
            throw new ConfigException("balloon size " + targetMib + " MiB is out of range (0 to " + MAX_TARGET_MIB + ")");
        }
        if (targetMib > memoryBytes >> 20) {
            throw new ConfigException("balloon size " + targetMib + " MiB is more than the guest's memory ("
                    + (memoryBytes >> 20) + " MiB)");
        }
        if (statsIntervalSeconds < 0 || statsIntervalSeconds > MAX_STATS_INTERVAL) {
            throw new ConfigException("balloon statistics interval " + statsIntervalSeconds
                    + " s is out of range (0 to " + MAX_STATS_INTERVAL + ")");
        }
    }
}
