package vessel.display.vnc;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * The messages a VNC client sends after the handshake (RFC 6143 7.5), read with every length bounded:
 * a client can make the server read at most {@link #MAX_ENCODINGS} encodings and skip at most
 * {@link #MAX_CUT_TEXT} bytes of clipboard text per message; anything else unknown drops it.
 */
public sealed interface ClientMessage {
    int MAX_ENCODINGS = 1024;
    int MAX_CUT_TEXT = 1 << 20;

    record SetPixelFormat(PixelFormat format) implements ClientMessage { }

    record SetEncodings(int[] encodings) implements ClientMessage { }

    record UpdateRequest(boolean incremental, int x, int y, int width, int height) implements ClientMessage { }

    record KeyEvent(boolean down, int keysym) implements ClientMessage { }

    record PointerEvent(int buttons, int x, int y) implements ClientMessage { }

    /** Clipboard text: skipped (the guest has no clipboard to give it to); only its length is kept. */
    record CutText(long length) implements ClientMessage { }

    /** The next message; EOFException when the client closed between messages, RfbException for garbage. */
    static ClientMessage read(DataInputStream in) throws IOException {
        int type = in.read();
        if (type < 0) {
            throw new EOFException("client closed the connection");
        }
        switch (type) {
            case 0 -> {
                byte[] b = new byte[3 + PixelFormat.BYTES];
                in.readFully(b);
                return new SetPixelFormat(PixelFormat.read(ByteBuffer.wrap(b, 3, PixelFormat.BYTES)));
            }
            case 2 -> {
                in.readByte();
                int n = in.readUnsignedShort();
                if (n > MAX_ENCODINGS) {
                    throw new RfbException("SetEncodings with " + n + " encodings (at most " + MAX_ENCODINGS + ")");
                }
                int[] e = new int[n];
                for (int i = 0; i < n; i++) {
                    e[i] = in.readInt();
                }
                return new SetEncodings(e);
            }
            case 3 -> {
                return new UpdateRequest(in.readUnsignedByte() != 0, in.readUnsignedShort(), in.readUnsignedShort(),
                        in.readUnsignedShort(), in.readUnsignedShort());
            }
            case 4 -> {
                boolean down = in.readUnsignedByte() != 0;
                in.readShort();
                return new KeyEvent(down, in.readInt());
            }
            case 5 -> {
                return new PointerEvent(in.readUnsignedByte(), in.readUnsignedShort(), in.readUnsignedShort());
            }
            case 6 -> {
                in.readFully(new byte[3]);
                long length = in.readInt() & 0xffff_ffffL;
                if (length > MAX_CUT_TEXT) {
                    throw new RfbException("clipboard text of " + length + " bytes (at most " + MAX_CUT_TEXT + ")");
                }
                in.readFully(new byte[(int) length]);
                return new CutText(length);
            }
            default -> throw new RfbException("unknown client message type " + type);
        }
    }
}
