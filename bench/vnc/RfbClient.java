import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;

/**
 * The scripted RFB 3.8 client both VNC benchmarks measure with (VncRate against the server in-process,
 * GuestRate against Vessel's and QEMU's over a guest): no password, 32-bit true colour, one encoding.
 * Plain JDK only, so GuestRate runs without the project's classes (java's multi-file source launcher
 * compiles this file beside the one it runs).
 */
final class RfbClient {
    private RfbClient() {
    }

    /** ProtocolVersion to SetEncodings; fails when the server wants a password or has another size. */
    static void handshake(DataInputStream in, DataOutputStream out, int encoding, int width, int height) throws IOException {
        in.readFully(new byte[12]);
        out.write("RFB 003.008\n".getBytes());
        int types = in.readUnsignedByte();
        boolean none = false;
        for (int i = 0; i < types; i++) {
            none |= in.readUnsignedByte() == 1;
        }
        if (!none) {
            throw new IOException("the server wants a password");
        }
        out.writeByte(1);
        if (in.readInt() != 0) {
            throw new IOException("security failed");
        }
        out.writeByte(1); // shared
        int w = in.readUnsignedShort();
        int h = in.readUnsignedShort();
        in.readFully(new byte[16]);
        in.readFully(new byte[in.readInt()]);
        if (w != width || h != height) {
            throw new IOException("the display is " + w + "x" + h + ", not " + width + "x" + height);
        }
        // SetPixelFormat: 32 bits, depth 24, little-endian true colour, red 16 green 8 blue 0 (the same for all servers)
        out.write(new byte[] {0, 0, 0, 0, 32, 24, 0, 1, 0, (byte) 255, 0, (byte) 255, 0, (byte) 255, 16, 8, 0, 0, 0, 0});
        out.write(new byte[] {2, 0, 0, 1});
        out.writeInt(encoding);
        out.flush();
    }

    /** FramebufferUpdateRequest for the whole screen. */
    static void request(DataOutputStream out, boolean incremental, int width, int height) throws IOException {
        out.writeByte(3);
        out.writeByte(incremental ? 1 : 0);
        out.writeShort(0);
        out.writeShort(0);
        out.writeShort(width);
        out.writeShort(height);
        out.flush();
    }

    /** Reads one FramebufferUpdate (skipping Bell messages); returns its size in bytes. */
    static long readUpdate(DataInputStream in) throws IOException {
        int type;
        while ((type = in.readUnsignedByte()) == 2) {
            // Bell: nothing more
        }
        if (type != 0) {
            throw new IOException("message type " + type + ", not an update");
        }
        in.readUnsignedByte();
        int n = in.readUnsignedShort();
        long bytes = 4;
        for (int i = 0; i < n; i++) {
            in.readUnsignedShort();
            in.readUnsignedShort();
            int w = in.readUnsignedShort();
            int h = in.readUnsignedShort();
            int enc = in.readInt();
            bytes += 12;
            long payload = switch (enc) {
                case 0 -> (long) w * h * 4;
                case 16 -> in.readInt() & 0xffffffffL;
                default -> throw new IOException("encoding " + enc + " was not asked for");
            };
            bytes += enc == 0 ? payload : 4 + payload;
            in.skipNBytes(payload);
        }
        return bytes;
    }
}
