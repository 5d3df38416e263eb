package vessel.display.vnc;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.OutputStream;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import vessel.devices.display.DisplayMode;
import vessel.devices.input.InputSink;

/**
 * Everything a VNC client can send, against one session: the version and security handshake, every client
 * message's parser, and the updates they ask for, encoded in whatever pixel format and encoding the bytes
 * choose. A client may only ever end its own session with an IOException; pointer positions handed to the
 * guest stay on the screen.
 */
class VncFuzzTest {
    private static final int MAX_MESSAGES = 256;
    private static final FakeDisplay DISPLAY = new FakeDisplay(DisplayMode.of(70, 40, 32)).pattern();

    @FuzzTest(maxDuration = "5s")
    void session(FuzzedDataProvider data) {
        boolean auth = data.consumeBoolean();
        long[] dirty = {data.consumeLong()};
        byte[] client = data.consumeRemainingAsBytes();
        InputSink onScreen = new InputSink() {
            @Override
            public void key(int keysym, boolean down) {
            }

            @Override
            public void pointer(int x, int y, int buttons, int width, int height) {
                if (x < 0 || y < 0 || x >= width || y >= height || buttons < 0 || buttons > 0xff) {
                    throw new AssertionError("pointer " + x + "," + y + " buttons " + buttons + " on " + width + "x" + height);
                }
            }
        };
        VncSession session = new VncSession(new ByteArrayInputStream(client), OutputStream.nullOutputStream(),
                () -> DISPLAY, onScreen, auth ? new byte[] {'p', 'w'} : null, "fuzz");
        try {
            session.handshake();
            for (int i = 0; i < MAX_MESSAGES; i++) {
                session.handle(session.readMessage());
                session.markDirty(dirty, (i & 7) != 0);
                session.sendUpdate();
            }
        } catch (IOException e) {
            // the client is dropped: the only way a client's bytes may end a session
        } finally {
            session.close();
        }
    }
}
