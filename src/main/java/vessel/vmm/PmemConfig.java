package vessel.vmm;

import java.nio.file.Path;

import vessel.devices.RateLimiter;

/**
 * A virtio-pmem device: a host file the guest sees as /dev/pmemN, mapped into guest-physical space.
 *
 * @param id         the device's name (Firecracker's pmem id)
 * @param path       the backing file; its size, rounded up to 2 MiB, is the device's size
 * @param readOnly   mapped read-only: the guest's writes never reach the file
 * @param rootDevice the guest boots from it ({@code root=/dev/pmem0} on a command line made by the API)
 * @param rateLimit  Firecracker's rate limiter on flush requests ({@link RateLimiter.Config#NONE}: none)
 */
public record PmemConfig(String id, Path path, boolean readOnly, boolean rootDevice, RateLimiter.Config rateLimit) {
    public PmemConfig {
        if (path == null) {
            throw new IllegalArgumentException("pmem device has no path");
        }
        rateLimit = rateLimit == null ? RateLimiter.Config.NONE : rateLimit;
    }

    public PmemConfig(String id, Path path, boolean readOnly) {
        this(id, path, readOnly, false, RateLimiter.Config.NONE);
    }
}
