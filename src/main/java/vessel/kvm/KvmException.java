package vessel.kvm;

import vessel.sys.SysException;

/** A KVM ioctl failed; the message names the ioctl and errno. */
public final class KvmException extends SysException {
    private final KvmIoctl ioctl;

    public KvmException(KvmIoctl ioctl, int errno) {
        super(ioctl.displayName(), errno);
        this.ioctl = ioctl;
    }

    public KvmException(KvmIoctl ioctl, int errno, String message) {
        super(ioctl.displayName(), errno, message);
        this.ioctl = ioctl;
    }

    public KvmIoctl ioctl() {
        return ioctl;
    }
}
