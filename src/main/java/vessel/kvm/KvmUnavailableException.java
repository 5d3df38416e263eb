package vessel.kvm;

import java.io.IOException;

/** /dev/kvm cannot be used on this host; the message says why in words a user can act on. */
public final class KvmUnavailableException extends IOException {
    public KvmUnavailableException(String message) {
        super(message);
    }
}
