package vessel.display.vnc;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * A scripted RFB client for tests: speaks a chosen version, authenticates, asks for updates and decodes Raw,
 * ZRLE and DesktopSize into a 0xRRGGBB pixel array, as a real viewer would (32-bit x8r8g8b8 little-endian,
 * or a 16-bit r5g6b5 format when asked).
 */
final class RfbTestClient implements AutoCloseable {
    final SocketChannel channel;
    final DataInputStream in;
    final DataOutputStream out;
    int width;
    int height;
    int[] pixels;
    String name;
    private final Inflater inflater = new Inflater();
    private int bpp = 4;
    long bytesRead;

    /** One rectangle of the last update: x, y, w, h, encoding. */
    record Rect(int x, int y, int w, int h, int encoding) { }

    RfbTestClient(SocketAddress address) throws IOException {
        channel = SocketChannel.open(address instanceof InetSocketAddress ? StandardProtocolFamily.INET
                : StandardProtocolFamily.UNIX);
        channel.connect(address);
        in = new DataInputStream(new java.io.BufferedInputStream(Channels.newInputStream(channel), 1 << 16));
        out = new DataOutputStream(Channels.newOutputStream(channel));
    }

    /** Version exchange and security; returns the security result (0 ok), or -1 where the version sends none. */
    int handshake(String version, byte[] password) throws IOException {
        byte[] v = new byte[12];
        in.readFully(v);
        if (!new String(v, StandardCharsets.US_ASCII).equals("RFB 003.008\n")) {
            throw new IOException("server version " + new String(v, StandardCharsets.US_ASCII));
        }
        out.write(version.getBytes(StandardCharsets.US_ASCII));
        int type;
        if (version.equals("RFB 003.003\n")) {
            type = in.readInt();
        } else {
            int n = in.readUnsignedByte();
            type = in.readUnsignedByte();
            for (int i = 1; i < n; i++) {
                in.readUnsignedByte();
            }
            out.writeByte(type);
        }
        if (type == 2) {
            byte[] challenge = new byte[16];
            in.readFully(challenge);
            out.write(VncAuth.response(password == null ? new byte[0] : password, challenge));
            return in.readInt();
        }
        return Integer.parseInt(version.substring(8, 11)) >= 8 ? in.readInt() : -1;
    }

    /** True once the server has closed the connection (an end of stream or a reset). */
    boolean dropped() {
        try {
            return in.read() == -1;
        } catch (IOException e) {
            return true;
        }
    }

    /** A failure reason (RFB 3.8 sends one after a failed SecurityResult). */
    String reason() throws IOException {
        byte[] b = new byte[in.readInt()];
        in.readFully(b);
        return new String(b, StandardCharsets.UTF_8);
    }

    /** ClientInit and ServerInit. */
    void init() throws IOException {
        out.writeByte(1);
        width = in.readUnsignedShort();
        height = in.readUnsignedShort();
        in.readFully(new byte[16]);
        byte[] n = new byte[in.readInt()];
        in.readFully(n);
        name = new String(n, StandardCharsets.UTF_8);
        pixels = new int[width * height];
    }

    void connect() throws IOException {
        int r = handshake("RFB 003.008\n", null);
        if (r != 0) {
            throw new IOException("security result " + r);
        }
        init();
    }

    void setEncodings(int... encodings) throws IOException {
        out.writeByte(2);
        out.writeByte(0);
        out.writeShort(encodings.length);
        for (int e : encodings) {
            out.writeInt(e);
        }
    }

    /** Asks for r5g6b5 little-endian pixels. */
    void setPixelFormat16() throws IOException {
        out.write(new byte[] {0, 0, 0, 0});
        out.write(new byte[] {16, 16, 0, 1, 0, 31, 0, 63, 0, 31, 11, 5, 0, 0, 0, 0});
        bpp = 2;
    }

    void request(boolean incremental, int x, int y, int w, int h) throws IOException {
        out.writeByte(3);
        out.writeByte(incremental ? 1 : 0);
        out.writeShort(x);
        out.writeShort(y);
        out.writeShort(w);
        out.writeShort(h);
    }

    void key(int keysym, boolean down) throws IOException {
        out.writeByte(4);
        out.writeByte(down ? 1 : 0);
        out.writeShort(0);
        out.writeInt(keysym);
    }

    void pointer(int buttons, int x, int y) throws IOException {
        out.writeByte(5);
        out.writeByte(buttons);
        out.writeShort(x);
        out.writeShort(y);
    }

    /** Reads one FramebufferUpdate into {@link #pixels}; returns its rectangles. */
    List<Rect> readUpdate() throws IOException {
        int type = in.readUnsignedByte();
        if (type != 0) {
            throw new IOException("server message type " + type);
        }
        in.readUnsignedByte();
        int n = in.readUnsignedShort();
        bytesRead += 4;
        List<Rect> rects = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Rect r = new Rect(in.readUnsignedShort(), in.readUnsignedShort(), in.readUnsignedShort(),
                    in.readUnsignedShort(), in.readInt());
            bytesRead += 12;
            rects.add(r);
            switch (r.encoding()) {
                case VncSession.ENCODING_RAW -> {
                    byte[] b = new byte[r.w() * r.h() * bpp];
                    in.readFully(b);
                    bytesRead += b.length;
                    for (int p = 0; p < r.w() * r.h(); p++) {
                        set(r.x() + p % r.w(), r.y() + p / r.w(), pixel(b, p * bpp, bpp));
                    }
                }
                case VncSession.ENCODING_ZRLE -> zrle(r);
                case VncSession.ENCODING_DESKTOP_SIZE -> {
                    width = r.w();
                    height = r.h();
                    pixels = new int[width * height];
                }
                default -> throw new IOException("encoding " + r.encoding());
            }
        }
        return rects;
    }

    private void set(int x, int y, int rgb) {
        pixels[y * width + x] = rgb;
    }

    int at(int x, int y) {
        return pixels[y * width + x];
    }

    /** A pixel of {@code size} little-endian bytes as 0xRRGGBB (r5g6b5 widened by replicating high bits). */
    private int pixel(byte[] b, int off, int size) {
        int v = 0;
        for (int i = 0; i < size; i++) {
            v |= (b[off + i] & 0xff) << (8 * i);
        }
        if (bpp == 4) {
            return v & 0xffffff;
        }
        int r = v >>> 11 & 31;
        int g = v >>> 5 & 63;
        int bl = v & 31;
        return (r << 3 | r >>> 2) << 16 | (g << 2 | g >>> 4) << 8 | (bl << 3 | bl >>> 2);
    }

    private void zrle(Rect r) throws IOException {
        int length = in.readInt();
        byte[] z = new byte[length];
        in.readFully(z);
        bytesRead += 4 + length;
        inflater.setInput(z);
        ByteArrayOutputStream plain = new ByteArrayOutputStream();
        byte[] buf = new byte[1 << 16];
        try {
            int got;
            while ((got = inflater.inflate(buf)) > 0) {
                plain.write(buf, 0, got);
            }
        } catch (DataFormatException e) {
            throw new IOException(e);
        }
        byte[] t = plain.toByteArray();
        int cp = bpp == 4 ? 3 : bpp;
        int at = 0;
        for (int ty = r.y(); ty < r.y() + r.h(); ty += 64) {
            int th = Math.min(64, r.y() + r.h() - ty);
            for (int tx = r.x(); tx < r.x() + r.w(); tx += 64) {
                int tw = Math.min(64, r.x() + r.w() - tx);
                int sub = t[at++] & 0xff;
                if (sub == 0) {
                    for (int i = 0; i < tw * th; i++, at += cp) {
                        set(tx + i % tw, ty + i / tw, pixel(t, at, cp));
                    }
                } else if (sub == 1) {
                    int c = pixel(t, at, cp);
                    at += cp;
                    for (int i = 0; i < tw * th; i++) {
                        set(tx + i % tw, ty + i / tw, c);
                    }
                } else if (sub <= 16) {
                    int[] palette = new int[sub];
                    for (int k = 0; k < sub; k++, at += cp) {
                        palette[k] = pixel(t, at, cp);
                    }
                    int bits = sub == 2 ? 1 : sub <= 4 ? 2 : 4;
                    for (int y = 0; y < th; y++) {
                        int used = 8;
                        int cur = 0;
                        for (int x = 0; x < tw; x++) {
                            if (used == 8) {
                                cur = t[at++] & 0xff;
                                used = 0;
                            }
                            int k = cur >>> (8 - bits - used) & ((1 << bits) - 1);
                            used += bits;
                            set(tx + x, ty + y, palette[k]);
                        }
                    }
                } else {
                    throw new IOException("ZRLE subencoding " + sub + " not expected from this server");
                }
            }
        }
        if (at != t.length) {
            throw new IOException("ZRLE rectangle has " + (t.length - at) + " bytes left over");
        }
    }

    @Override
    public void close() throws IOException {
        inflater.end();
        channel.close();
    }
}
