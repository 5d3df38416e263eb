package vessel.vmm;

import vessel.devices.RateLimiter;
import vessel.devices.mmds.MmdsStore;

/**
 * A virtio-net interface backed by a host TAP device.
 *
 * @param id  the interface's name in logs (Firecracker's iface_id)
 * @param tap the TAP interface to attach to (made beforehand: {@code ip tuntap add NAME mode tap})
 * @param mac the guest's MAC address, {@code aa:bb:cc:dd:ee:ff}; null for one derived from the TAP name
 * @param rxRateLimit Firecracker's rate limiter on frames to the guest ({@link RateLimiter.Config#NONE}: none)
 * @param txRateLimit the same on frames from the guest
 * @param mmds        the metadata service answering on this interface (frames to its address never reach
 *                    the TAP), or null for none; a live store the API keeps changing, not a copy
 */
public record NetConfig(String id, String tap, String mac, RateLimiter.Config rxRateLimit,
                        RateLimiter.Config txRateLimit, MmdsStore mmds) {
    public NetConfig {
        if (tap == null) {
            throw new IllegalArgumentException("network interface has no TAP device");
        }
        rxRateLimit = rxRateLimit == null ? RateLimiter.Config.NONE : rxRateLimit;
        txRateLimit = txRateLimit == null ? RateLimiter.Config.NONE : txRateLimit;
    }

    /** An interface without the MMDS. */
    public NetConfig(String id, String tap, String mac, RateLimiter.Config rxRateLimit, RateLimiter.Config txRateLimit) {
        this(id, tap, mac, rxRateLimit, txRateLimit, null);
    }

    /** An interface without rate limiting. */
    public NetConfig(String id, String tap, String mac) {
        this(id, tap, mac, RateLimiter.Config.NONE, RateLimiter.Config.NONE);
    }

    /** The six bytes of {@code mac}, or null when it is not six hex pairs separated by colons. */
    static byte[] parseMac(String mac) {
        String[] parts = mac.split(":", -1);
        if (parts.length != 6) {
            return null;
        }
        byte[] b = new byte[6];
        for (int i = 0; i < 6; i++) {
            if (!parts[i].matches("[0-9A-Fa-f]{2}")) {
                return null;
            }
            b[i] = (byte) Integer.parseInt(parts[i], 16);
        }
        return b;
    }

    /** The MAC the guest gets: the configured one, or a locally administered one derived from the TAP name. */
    byte[] macBytes() {
        if (mac != null) {
            return parseMac(mac);
        }
        int h = tap.hashCode();
        return new byte[] {0x52, 0x54, 0x00, (byte) (h >>> 16), (byte) (h >>> 8), (byte) h};
    }
}
