package vessel.display.vnc;

import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.zip.Deflater;

import vessel.devices.display.Display;
import vessel.devices.display.DisplayMode;
import vessel.devices.input.InputSink;
import vessel.display.DisplaySource;
import vessel.display.FrameReader;

/**
 * One VNC client: the RFB handshake (3.3, 3.7 or 3.8; None or VNC Authentication), its messages, and the
 * framebuffer updates it asked for. Updates go out only where the display's dirty log says the guest wrote
 * (full lines, a run of lines a rectangle), as Raw or ZRLE, with DesktopSize when the mode changes.
 *
 * <p>Three threads touch a session: the reader ({@link #handshake}, {@link #readMessage}, {@link #handle}),
 * the sender ({@link #sendUpdate}, the only writer after the handshake) and the server's dirty-page poller
 * ({@link #markDirty}). Shared state is guarded by this object's lock; I/O happens outside it.
 */
public final class VncSession {
    public static final int ENCODING_RAW = 0;
    public static final int ENCODING_ZRLE = 16;
    public static final int ENCODING_DESKTOP_SIZE = -223;
    static final int SECURITY_NONE = 1;
    static final int SECURITY_VNC_AUTH = 2;
    /** The size reported while no guest display exists yet. */
    static final int DEFAULT_WIDTH = 640;
    static final int DEFAULT_HEIGHT = 480;
    private static final int ZRLE_TILE = 64;

    private final DataInputStream in;
    private final DataOutputStream out;
    private final DisplaySource source;
    private final InputSink input;
    /** Where VNC Authentication's challenges come from; shared, and thread-safe. */
    static final SecureRandom CHALLENGES = new SecureRandom();
    private final byte[] password;
    private final String name;

    private int minor;
    private PixelFormat format = PixelFormat.X8R8G8B8;
    private boolean zrle;
    private boolean desktopSize;
    private ClientMessage.UpdateRequest pending;
    private long[] dirty = new long[0];
    private boolean wholeFrame = true;
    private Display shownDisplay;
    private int shownWidth;
    private int shownHeight;
    private final Deflater deflater = new Deflater(Deflater.BEST_SPEED);
    private long bytesSent;
    private long updatesSent;

    public VncSession(InputStream in, OutputStream out, DisplaySource source, InputSink input, byte[] password,
                      String name) {
        this.in = new DataInputStream(in);
        this.out = new DataOutputStream(new BufferedOutputStream(out, 1 << 16));
        this.source = source;
        this.input = input;
        this.password = password == null ? null : password.clone();
        this.name = name;
    }

    /** The RFB version the client chose (3, 7 or 8 for 3.3, 3.7, 3.8), after the handshake. */
    public int minorVersion() {
        return minor;
    }

    /** Version, security and initialisation messages; throws when the client fails any of them. */
    public void handshake() throws IOException {
        out.write("RFB 003.008\n".getBytes(StandardCharsets.US_ASCII));
        out.flush();
        byte[] v = new byte[12];
        in.readFully(v);
        minor = parseVersion(v);
        int type = password == null ? SECURITY_NONE : SECURITY_VNC_AUTH;
        if (minor == 3) {
            out.writeInt(type);
        } else {
            out.writeByte(1);
            out.writeByte(type);
            out.flush();
            int chosen = in.readUnsignedByte();
            if (chosen != type) {
                fail("security type " + chosen + " was not offered (" + type + " was)");
            }
        }
        if (type == SECURITY_VNC_AUTH) {
            byte[] challenge = new byte[VncAuth.CHALLENGE_BYTES];
            CHALLENGES.nextBytes(challenge);
            out.write(challenge);
            out.flush();
            byte[] answer = new byte[VncAuth.CHALLENGE_BYTES];
            in.readFully(answer);
            if (!VncAuth.check(password, challenge, answer)) {
                fail("VNC authentication failed");
            }
            out.writeInt(0);
        } else if (minor == 8) {
            out.writeInt(0);
        }
        out.flush();
        in.readUnsignedByte(); // shared-flag: every client shares the one display
        Display d = source.current();
        DisplayMode mode = d == null ? null : d.mode();
        synchronized (this) {
            shownDisplay = d;
            shownWidth = mode == null ? DEFAULT_WIDTH : mode.width();
            shownHeight = mode == null ? DEFAULT_HEIGHT : mode.height();
        }
        byte[] nameBytes = name.getBytes(StandardCharsets.UTF_8);
        ByteBuffer init = ByteBuffer.allocate(24 + nameBytes.length);
        init.putShort((short) shownWidth).putShort((short) shownHeight);
        PixelFormat.X8R8G8B8.write(init);
        init.putInt(nameBytes.length).put(nameBytes);
        out.write(init.array());
        out.flush();
    }

    /** "RFB 003.00x\n": 3.8 and later speak 3.8, 3.7 is 3.7, every other 3.x is 3.3 (RFC 6143 7.1.1). */
    static int parseVersion(byte[] v) throws RfbException {
        String s = new String(v, StandardCharsets.US_ASCII);
        if (!s.matches("RFB \\d{3}\\.\\d{3}\n")) {
            throw new RfbException("not an RFB client (version message " + printable(s) + ")");
        }
        int major = Integer.parseInt(s.substring(4, 7));
        int m = Integer.parseInt(s.substring(8, 11));
        if (major != 3) {
            throw new RfbException("RFB version " + major + "." + m + " (3.x only)");
        }
        return m >= 8 ? 8 : m == 7 ? 7 : 3;
    }

    /** SecurityResult "failed" (with the reason where 3.8 has one), then the client is dropped. */
    private void fail(String why) throws IOException {
        out.writeInt(1);
        if (minor == 8) {
            byte[] reason = why.getBytes(StandardCharsets.UTF_8);
            out.writeInt(reason.length);
            out.write(reason);
        }
        out.flush();
        throw new RfbException(why);
    }

    public ClientMessage readMessage() throws IOException {
        return ClientMessage.read(in);
    }

    /** Applies a client message: formats and encodings to this session, input to the guest. */
    public void handle(ClientMessage m) {
        switch (m) {
            case ClientMessage.SetPixelFormat f -> {
                synchronized (this) {
                    format = f.format();
                    wholeFrame = true; // pixels already on the client are in the old format
                }
            }
            case ClientMessage.SetEncodings e -> {
                boolean z = false;
                boolean ds = false;
                for (int enc : e.encodings()) {
                    if (enc == ENCODING_ZRLE && !z) {
                        z = true;
                    } else if (enc == ENCODING_DESKTOP_SIZE) {
                        ds = true;
                    }
                }
                // ZRLE when offered; it is the only compressed encoding served, so its place in the list does not matter
                synchronized (this) {
                    zrle = z;
                    desktopSize = ds;
                }
            }
            case ClientMessage.UpdateRequest r -> {
                synchronized (this) {
                    // A later non-incremental request widens a pending incremental one.
                    if (pending == null || !r.incremental()) {
                        pending = r;
                    }
                    notifyAll();
                }
            }
            case ClientMessage.KeyEvent k -> input.key(k.keysym(), k.down());
            case ClientMessage.PointerEvent p -> {
                int w;
                int h;
                synchronized (this) {
                    w = shownWidth;
                    h = shownHeight;
                }
                input.pointer(Math.min(p.x(), w - 1), Math.min(p.y(), h - 1), p.buttons(), w, h);
            }
            case ClientMessage.CutText c -> { }
        }
    }

    /** From the server's poller: pages the guest wrote ({@code known} false: it cannot tell, all of them). */
    public synchronized void markDirty(long[] pages, boolean known) {
        if (!known) {
            wholeFrame = true;
        } else {
            if (dirty.length < pages.length) {
                dirty = Arrays.copyOf(dirty, pages.length);
            }
            boolean any = false;
            for (int i = 0; i < pages.length; i++) {
                dirty[i] |= pages[i];
                any |= pages[i] != 0;
            }
            if (!any) {
                return;
            }
        }
        notifyAll();
    }

    /** Waits up to {@code millis} for a request or a change; for the sender thread. */
    public synchronized void awaitWork(long millis) throws InterruptedException {
        wait(millis);
    }

    /**
     * Sends the update the client asked for if there is something to send: anything for a full request, what
     * the guest wrote for an incremental one. Returns whether an update went out.
     */
    public boolean sendUpdate() throws IOException {
        Display d = source.current();
        DisplayMode mode = d == null ? null : d.mode();
        ClientMessage.UpdateRequest req;
        long[] pages;
        boolean whole;
        boolean resized;
        PixelFormat fmt;
        boolean useZrle;
        synchronized (this) {
            if (pending == null || mode == null) {
                return false;
            }
            boolean replaced = d != shownDisplay;
            resized = mode.width() != shownWidth || mode.height() != shownHeight;
            whole = wholeFrame || replaced || resized || !pending.incremental();
            boolean anyDirty = false;
            for (long w : dirty) {
                anyDirty |= w != 0;
            }
            if (!whole && !anyDirty) {
                return false;
            }
            if (resized && !desktopSize) {
                throw new RfbException("the display changed size to " + mode.width() + "x" + mode.height()
                        + " and the client cannot follow (no DesktopSize encoding)");
            }
            req = pending;
            pending = null;
            pages = dirty;
            dirty = new long[pages.length];
            wholeFrame = false;
            shownDisplay = d;
            shownWidth = mode.width();
            shownHeight = mode.height();
            fmt = format;
            useZrle = zrle;
        }
        FrameReader frame;
        try {
            frame = new FrameReader(mode, d.framebuffer());
            writeUpdate(frame, req, pages, whole, resized, fmt, useZrle);
        } catch (IllegalStateException e) {
            // The guest's memory went away under us (the VM closed): wait for the next display.
            synchronized (this) {
                pending = req;
                wholeFrame = true;
            }
            return false;
        }
        return true;
    }

    private void writeUpdate(FrameReader frame, ClientMessage.UpdateRequest req, long[] pages, boolean whole,
                             boolean resized, PixelFormat fmt, boolean useZrle) throws IOException {
        DisplayMode mode = frame.mode();
        int x0 = resized ? 0 : Math.min(req.x(), mode.width());
        int y0 = resized ? 0 : Math.min(req.y(), mode.height());
        int x1 = resized ? mode.width() : Math.min(mode.width(), req.x() + req.width());
        int y1 = resized ? mode.height() : Math.min(mode.height(), req.y() + req.height());
        boolean[] lines = new boolean[mode.height()];
        if (whole) {
            Arrays.fill(lines, y0, Math.max(y0, y1), true);
        } else {
            long stride = mode.stride();
            for (int word = 0; word < pages.length; word++) {
                for (long bits = pages[word]; bits != 0; bits &= bits - 1) {
                    long page = word * 64L + Long.numberOfTrailingZeros(bits);
                    long first = page * 4096 / stride;
                    long last = (page * 4096 + 4095) / stride;
                    for (long y = Math.max(first, y0); y <= last && y < y1; y++) {
                        lines[(int) y] = true;
                    }
                }
            }
        }
        // Runs of changed lines, as wide as the request.
        java.util.List<int[]> rects = new java.util.ArrayList<>();
        if (x1 > x0) {
            for (int y = y0; y < y1; y++) {
                if (lines[y]) {
                    int start = y;
                    while (y < y1 && lines[y]) {
                        y++;
                    }
                    rects.add(new int[] {x0, start, x1 - x0, y - start});
                }
            }
        }
        out.writeByte(0);
        out.writeByte(0);
        out.writeShort(rects.size() + (resized ? 1 : 0));
        if (resized) {
            rectHeader(0, 0, mode.width(), mode.height(), ENCODING_DESKTOP_SIZE);
        }
        for (int[] r : rects) {
            if (useZrle) {
                zrle(frame, fmt, r[0], r[1], r[2], r[3]);
            } else {
                raw(frame, fmt, r[0], r[1], r[2], r[3]);
            }
        }
        out.flush();
        synchronized (this) {
            bytesSent = out.size(); // DataOutputStream's count, which stops at 2^31 - 1
            updatesSent++;
        }
    }

    private void rectHeader(int x, int y, int w, int h, int encoding) throws IOException {
        out.writeShort(x);
        out.writeShort(y);
        out.writeShort(w);
        out.writeShort(h);
        out.writeInt(encoding);
    }

    private void raw(FrameReader frame, PixelFormat fmt, int x, int y, int w, int h) throws IOException {
        rectHeader(x, y, w, h, ENCODING_RAW);
        int[] rgb = new int[w];
        int bpp = fmt.bytesPerPixel();
        ByteBuffer line = ByteBuffer.allocate(w * bpp);
        boolean asIs = frame.isX8R8G8B8() && fmt.isX8R8G8B8() && !fmt.bigEndian();
        for (int row = y; row < y + h; row++) {
            if (asIs) { // the common case: the client takes the framebuffer's own pixels
                frame.copyRow(x, row, w, line.array(), 0);
                out.write(line.array(), 0, w * bpp);
                continue;
            }
            frame.row(x, row, w, rgb, 0);
            line.clear();
            if (fmt.isX8R8G8B8()) {
                line.order(fmt.bigEndian() ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN).asIntBuffer().put(rgb);
            } else {
                for (int p : rgb) {
                    fmt.put(line, fmt.pack(p), 0, bpp);
                }
            }
            out.write(line.array(), 0, w * bpp);
        }
    }

    /** ZRLE (RFC 6143 7.7.6): 64x64 tiles, each solid, a packed palette of up to 16 colours, or raw CPIXELs; zlib over all. */
    private void zrle(FrameReader frame, PixelFormat fmt, int x, int y, int w, int h) throws IOException {
        int cpFirst = Math.max(0, fmt.compactFirstByte());
        int cpBytes = fmt.compactBytes();
        ByteBuffer tiles = ByteBuffer.allocate(estimate(w, h, cpBytes));
        int[] rgb = new int[ZRLE_TILE * ZRLE_TILE];
        int[] palette = new int[16];
        for (int ty = y; ty < y + h; ty += ZRLE_TILE) {
            int th = Math.min(ZRLE_TILE, y + h - ty);
            for (int tx = x; tx < x + w; tx += ZRLE_TILE) {
                int tw = Math.min(ZRLE_TILE, x + w - tx);
                tile(frame, fmt, tx, ty, tw, th, rgb, palette, tiles, cpFirst, cpBytes);
            }
        }
        deflater.setInput(tiles.array(), 0, tiles.position());
        ByteArrayOutputStream z = new ByteArrayOutputStream(tiles.position() / 4 + 64);
        byte[] buf = new byte[1 << 16];
        int got;
        do {
            got = deflater.deflate(buf, 0, buf.length, Deflater.SYNC_FLUSH);
            z.write(buf, 0, got);
        } while (got == buf.length);
        rectHeader(x, y, w, h, ENCODING_ZRLE);
        out.writeInt(z.size());
        z.writeTo(out);
    }

    /** One ZRLE tile: solid, a packed palette of up to 16 colours, or raw CPIXELs. */
    private static void tile(FrameReader frame, PixelFormat fmt, int tx, int ty, int tw, int th, int[] rgb, int[] palette,
                             ByteBuffer tiles, int cpFirst, int cpBytes) {
        int n = tw * th;
        for (int r = 0; r < th; r++) {
            frame.row(tx, ty + r, tw, rgb, r * tw);
        }
        if (!fmt.isX8R8G8B8()) { // else FrameReader's 0xRRGGBB is already the client's pixel value
            for (int i = 0; i < n; i++) {
                rgb[i] = fmt.pack(rgb[i]);
            }
        }
        int colours = 0;
        for (int i = 0; i < n && colours <= 16; i++) {
            int p = rgb[i];
            int k = 0;
            while (k < colours && palette[k] != p) {
                k++;
            }
            if (k == colours) {
                if (colours < 16) {
                    palette[colours] = p;
                }
                colours++;
            }
        }
        if (colours > 16) {
            tiles.put((byte) 0);
            for (int i = 0; i < n; i++) {
                fmt.put(tiles, rgb[i], cpFirst, cpBytes);
            }
        } else if (colours == 1) {
            tiles.put((byte) 1);
            fmt.put(tiles, palette[0], cpFirst, cpBytes);
        } else {
            tiles.put((byte) colours);
            for (int k = 0; k < colours; k++) {
                fmt.put(tiles, palette[k], cpFirst, cpBytes);
            }
            int bits = colours == 2 ? 1 : colours <= 4 ? 2 : 4;
            for (int r = 0; r < th; r++) {
                int acc = 0;
                int used = 0;
                for (int c = 0; c < tw; c++) {
                    int p = rgb[r * tw + c];
                    int k = 0;
                    while (palette[k] != p) {
                        k++;
                    }
                    acc = acc << bits | k;
                    used += bits;
                    if (used == 8) {
                        tiles.put((byte) acc);
                        acc = 0;
                        used = 0;
                    }
                }
                if (used > 0) {
                    tiles.put((byte) (acc << (8 - used)));
                }
            }
        }
    }

    /** The largest a rectangle's tiles can be: a subencoding byte a tile, and raw CPIXELs. */
    private static int estimate(int w, int h, int cpBytes) {
        long tiles = (long) ((w + ZRLE_TILE - 1) / ZRLE_TILE) * ((h + ZRLE_TILE - 1) / ZRLE_TILE);
        return (int) Math.min(Integer.MAX_VALUE - 8, tiles + (long) w * h * cpBytes);
    }

    /** Bytes written to the client so far and framebuffer updates sent: for the benchmark. */
    public synchronized long[] counters() {
        return new long[] {bytesSent, updatesSent};
    }

    public void close() {
        deflater.end();
    }

    private static String printable(String s) {
        StringBuilder b = new StringBuilder("'");
        for (char c : s.toCharArray()) {
            b.append(c >= 0x20 && c < 0x7f ? String.valueOf(c) : String.format("\\x%02x", (int) c));
        }
        return b.append('\'').toString();
    }
}
