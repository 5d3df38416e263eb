package vessel.display.web;

import java.io.IOException;

/** A client broke the WebSocket or HTTP protocol: its connection is dropped, nothing else is affected. */
public final class WebSocketException extends IOException {
    public WebSocketException(String message) {
        super(message);
    }
}
