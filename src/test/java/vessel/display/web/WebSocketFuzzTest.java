package vessel.display.web;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * What a browser (or anything else reaching the browser console's port) can send: a request head, then
 * WebSocket frames. A client may only ever end its own connection with an IOException; what the server
 * answers (pongs, a close) is always whole frames.
 */
class WebSocketFuzzTest {
    @FuzzTest(maxDuration = "5s")
    void requestThenFrames(FuzzedDataProvider data) {
        boolean withHead = data.consumeBoolean();
        byte[] bytes = data.consumeRemainingAsBytes();
        InputStream in = new ByteArrayInputStream(bytes);
        ByteArrayOutputStream answers = new ByteArrayOutputStream();
        try {
            if (withHead) {
                HttpRequest request = HttpRequest.read(in);
                request.isWebSocketUpgrade();
                request.pathOnly();
            }
            WebSocket ws = new WebSocket(in, answers);
            InputStream stream = ws.input();
            byte[] buf = new byte[4096];
            long total = 0;
            int n;
            while ((n = stream.read(buf)) > 0) {
                total += n;
            }
            if (total > bytes.length) {
                throw new AssertionError("more data out (" + total + ") than bytes in (" + bytes.length + ")");
            }
        } catch (IOException e) {
            // the client is dropped: the only way its bytes may end a connection
        }
        WebSocketTest.assertWholeServerFrames(answers.toByteArray());
    }
}
