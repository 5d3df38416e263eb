package vessel.sys;

import java.io.IOException;

/** A failed system call: names the call and carries errno, so callers can test for EINTR, EAGAIN... */
public class SysException extends IOException {
    private final String call;
    private final int errno;

    public SysException(String call, int errno) {
        super(call + " failed: " + Errno.describe(errno));
        this.call = call;
        this.errno = errno;
    }

    /** For callers that can say more than "call failed: errno". */
    protected SysException(String call, int errno, String message) {
        super(message);
        this.call = call;
        this.errno = errno;
    }

    public String call() {
        return call;
    }

    public int errno() {
        return errno;
    }
}
