package vessel.vmm;

import java.nio.file.Path;

/**
 * A virtio-vsock device in Firecracker's model: the host side is the Unix socket {@code uds}.
 *
 * @param cid the guest's context ID (3 or more: 0-2 are reserved for the hypervisor and the host)
 * @param uds where the listening socket for host-initiated connections is made; a guest connection to
 *            host port P goes to {@code <uds>_<P>}
 */
public record VsockConfig(long cid, Path uds) {
    public VsockConfig {
        if (uds == null) {
            throw new IllegalArgumentException("vsock has no socket path");
        }
    }
}
