package vessel.devices.virtio;

import java.io.IOException;

import vessel.sys.IoVec;

/**
 * Where a {@link VirtioNet} sends and receives frames: a TAP device opened with IFF_VNET_HDR and a
 * 12-byte vnet header in production, an in-memory queue in tests. Every frame starts with the 12-byte
 * {@code virtio_net_hdr} (num_buffers included), exactly as the driver and the TAP both lay it out.
 * Frames move as scatter-gather lists ({@link IoVec}) whose entries are the driver's buffers in guest
 * memory, so a TAP reads and writes them with one readv or writev and no copy.
 */
public interface NetBackend extends AutoCloseable {
    /**
     * Reads one frame into the buffers of {@code iov}'s first {@code count} entries, in order; returns its
     * length (at most what they hold: the device offers room for the largest frame), or 0 when none waits
     * (never blocks).
     */
    int read(IoVec iov, int count) throws IOException;

    /**
     * Sends the frame of {@code len} bytes in the buffers of {@code iov}'s first {@code count} entries; a
     * backend that cannot take it now drops it (and throws).
     */
    void write(IoVec iov, int count, int len) throws IOException;

    /** Blocks until a frame may be waiting or {@link #wakeup} was called. */
    void awaitReadable() throws IOException;

    /** Ends a current or the next {@link #awaitReadable}. */
    void wakeup();

    /** Whether the backend takes checksum and segmentation offloads (TUNSETOFFLOAD works). */
    boolean offloads();

    /**
     * Lets the backend hand the device frames that need the offloads the driver accepted: partial
     * checksums, and TCP segments up to 64 KiB over IPv4, IPv6 (with ECN).
     */
    void enableOffloads(boolean csum, boolean tso4, boolean tso6, boolean ecn) throws IOException;

    @Override
    void close();
}
