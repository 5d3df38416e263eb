package vessel.devices.block;

import java.io.IOException;

/**
 * An image Vessel will not use: malformed, hostile, or with a feature it does not implement. The message
 * is one line naming the file and the reason, fit to show the user as it is.
 */
public final class DiskImageException extends IOException {
    public DiskImageException(String message) {
        super(message);
    }
}
