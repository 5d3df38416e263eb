package vessel.display.web;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;

/**
 * The server's end of a WebSocket (RFC 6455) after the HTTP upgrade: frames read from the browser, whose
 * every field is checked (a client must mask, control frames are short and whole, no reserved bits or
 * opcodes, a continuation only inside a fragmented message, payloads at most {@link #MAX_PAYLOAD}), and frames
 * written to it, unmasked. The data of text and binary messages is one byte stream ({@link #input()}), as
 * websockify treats it: RFB and the serial console are streams, and a frame boundary means nothing to them.
 * Pings are answered; a close frame ends the stream.
 */
public final class WebSocket {
    /** RFC 6455, 1.3: appended to the client's key before hashing. */
    private static final String ACCEPT_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    /** The largest frame payload taken from a client: noVNC's and xterm's messages are far smaller. */
    static final int MAX_PAYLOAD = 1 << 20;
    static final int MAX_CONTROL_PAYLOAD = 125;

    /** Frame opcodes (RFC 6455, 5.2). */
    enum Opcode {
        CONTINUATION(0), TEXT(1), BINARY(2), CLOSE(8), PING(9), PONG(10);

        final int code;

        Opcode(int code) {
            this.code = code;
        }

        static Opcode of(int code) throws WebSocketException {
            for (Opcode o : values()) {
                if (o.code == code) {
                    return o;
                }
            }
            throw new WebSocketException("reserved opcode " + code);
        }

        boolean isControl() {
            return code >= 8;
        }
    }

    /** One frame as read, its payload unmasked. */
    record Frame(boolean fin, Opcode opcode, byte[] payload) { }

    private final InputStream in;
    private final OutputStream out;
    private final Object writeLock = new Object();
    /** True inside a fragmented text or binary message (a data frame without FIN was read). */
    private boolean fragmented;
    private boolean closed;

    public WebSocket(InputStream in, OutputStream out) {
        this.in = in;
        this.out = out;
    }

    /** The Sec-WebSocket-Accept value for a client's Sec-WebSocket-Key. */
    public static String acceptKey(String key) {
        try {
            byte[] sha1 = MessageDigest.getInstance("SHA-1")
                    .digest((key.strip() + ACCEPT_GUID).getBytes(StandardCharsets.US_ASCII));
            return Base64.getEncoder().encodeToString(sha1);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-1", e);
        }
    }

    /** Reads one frame and checks it; EOFException when the connection ends first. */
    Frame readFrame() throws IOException {
        int b0 = readByte();
        int b1 = readByte();
        if ((b0 & 0x70) != 0) {
            throw new WebSocketException("reserved bits set without an extension");
        }
        boolean fin = (b0 & 0x80) != 0;
        Opcode opcode = Opcode.of(b0 & 0x0f);
        if ((b1 & 0x80) == 0) {
            throw new WebSocketException("an unmasked frame from the client");
        }
        long length = b1 & 0x7f;
        if (length == 126) {
            length = (readByte() << 8) | readByte();
        } else if (length == 127) {
            length = 0;
            for (int i = 0; i < 8; i++) {
                length = (length << 8) | readByte();
            }
            if (length < 0) {
                throw new WebSocketException("a frame length with its top bit set");
            }
        }
        if (opcode.isControl() && (!fin || length > MAX_CONTROL_PAYLOAD)) {
            throw new WebSocketException("a fragmented or long (" + length + " bytes) control frame");
        }
        if (length > MAX_PAYLOAD) {
            throw new WebSocketException("a frame of " + length + " bytes (at most " + MAX_PAYLOAD + ")");
        }
        if (opcode == Opcode.CONTINUATION && !fragmented) {
            throw new WebSocketException("a continuation frame outside a fragmented message");
        }
        if ((opcode == Opcode.TEXT || opcode == Opcode.BINARY) && fragmented) {
            throw new WebSocketException("a new message inside a fragmented one");
        }
        if (!opcode.isControl()) {
            fragmented = !fin;
        }
        byte[] mask = in.readNBytes(4);
        if (mask.length < 4) {
            throw new EOFException("the connection ended inside a frame header");
        }
        byte[] payload = in.readNBytes((int) length);
        if (payload.length < length) {
            throw new EOFException("the connection ended inside a frame");
        }
        for (int i = 0; i < payload.length; i++) {
            payload[i] ^= mask[i & 3];
        }
        return new Frame(fin, opcode, payload);
    }

    private int readByte() throws IOException {
        int b = in.read();
        if (b < 0) {
            throw new EOFException("the connection ended");
        }
        return b;
    }

    /**
     * The next data frame's payload, answering pings on the way; null once the client closed (its close
     * frame is answered). Empty data frames are skipped.
     */
    byte[] readData() throws IOException {
        while (!closed) {
            Frame f = readFrame();
            switch (f.opcode()) {
                case PING -> send(Opcode.PONG, f.payload(), 0, f.payload().length);
                case PONG -> { }
                case CLOSE -> {
                    closed = true;
                    sendClose();
                }
                default -> {
                    if (f.payload().length > 0) {
                        return f.payload();
                    }
                }
            }
        }
        return null;
    }

    /** The bytes of every text and binary message, in order; end of stream when the client closes. */
    public InputStream input() {
        return new InputStream() {
            private byte[] current = new byte[0];
            private int pos;

            @Override
            public int read() throws IOException {
                byte[] one = new byte[1];
                return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                java.util.Objects.checkFromIndexSize(off, len, b.length);
                if (len == 0) {
                    return 0;
                }
                if (pos == current.length) {
                    byte[] next = readData();
                    if (next == null) {
                        return -1;
                    }
                    current = next;
                    pos = 0;
                }
                int n = Math.min(len, current.length - pos);
                System.arraycopy(current, pos, b, off, n);
                pos += n;
                return n;
            }
        };
    }

    /** A stream whose every write is one binary message (wrap it in a buffer to send fewer, larger ones). */
    public OutputStream binaryOutput() {
        return new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                java.util.Objects.checkFromIndexSize(off, len, b.length);
                send(Opcode.BINARY, b, off, len);
            }
        };
    }

    /** Sends one whole frame (unmasked, as a server must). */
    void send(Opcode opcode, byte[] b, int off, int len) throws IOException {
        byte[] header;
        if (len < 126) {
            header = new byte[] {(byte) (0x80 | opcode.code), (byte) len};
        } else if (len <= 0xffff) {
            header = new byte[] {(byte) (0x80 | opcode.code), 126, (byte) (len >> 8), (byte) len};
        } else {
            header = new byte[10];
            header[0] = (byte) (0x80 | opcode.code);
            header[1] = 127;
            for (int i = 0; i < 8; i++) {
                header[9 - i] = (byte) ((long) len >>> (8 * i));
            }
        }
        synchronized (writeLock) {
            out.write(header);
            out.write(b, off, len);
            out.flush();
        }
    }

    /** A close frame with status 1000 (normal closure). */
    void sendClose() throws IOException {
        send(Opcode.CLOSE, new byte[] {0x03, (byte) 0xe8}, 0, 2);
    }
}
