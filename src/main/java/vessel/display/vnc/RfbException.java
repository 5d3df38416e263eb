package vessel.display.vnc;

import java.io.IOException;

/** A VNC client broke the protocol (or failed authentication): the client is dropped, with this as the reason logged. */
public final class RfbException extends IOException {
    public RfbException(String message) {
        super(message);
    }
}
