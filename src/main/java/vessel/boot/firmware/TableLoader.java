package vessel.boot.firmware;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * The commands of QEMU's {@code etc/table-loader} file (QEMU hw/acpi/bios-linker-loader.c, SeaBIOS
 * src/fw/romfile_loader.c): firmware allocates each named fw_cfg file in guest memory, adds a file's
 * final address to pointer fields in another, and recomputes checksums. Each command is 128 bytes,
 * little-endian, file names NUL-padded to 56 bytes.
 */
public final class TableLoader {
    static final int ENTRY_SIZE = 128;
    static final int NAME_SIZE = 56;
    static final int ALLOCATE = 1;
    static final int ADD_POINTER = 2;
    static final int ADD_CHECKSUM = 3;

    /** Where firmware places an allocated file. */
    public enum Zone {
        /** Anywhere in RAM below 4 GiB (high in the 32-bit space). */
        HIGH(1),
        /** In the F segment (0xF0000-0xFFFFF), where a guest scanning for the RSDP finds it. */
        FSEG(2);

        final int code;

        Zone(int code) {
            this.code = code;
        }
    }

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    public TableLoader allocate(String file, int align, Zone zone) {
        byte[] e = entry(ALLOCATE);
        name(e, 4, file);
        putLe(e, 4 + NAME_SIZE, align, 4);
        e[4 + NAME_SIZE + 4] = (byte) zone.code;
        out.writeBytes(e);
        return this;
    }

    /** Adds {@code source}'s address to the {@code size}-byte little-endian field at {@code offset} in {@code dest}. */
    public TableLoader addPointer(String dest, String source, int offset, int size) {
        if (size != 1 && size != 2 && size != 4 && size != 8) {
            throw new IllegalArgumentException("pointer size " + size + " is not 1, 2, 4 or 8");
        }
        byte[] e = entry(ADD_POINTER);
        name(e, 4, dest);
        name(e, 4 + NAME_SIZE, source);
        putLe(e, 4 + 2 * NAME_SIZE, offset, 4);
        e[4 + 2 * NAME_SIZE + 4] = (byte) size;
        out.writeBytes(e);
        return this;
    }

    /** Makes the bytes {@code [start, start+length)} of {@code file} sum to zero by adjusting the byte at {@code at}. */
    public TableLoader addChecksum(String file, int at, int start, int length) {
        byte[] e = entry(ADD_CHECKSUM);
        name(e, 4, file);
        putLe(e, 4 + NAME_SIZE, at, 4);
        putLe(e, 4 + NAME_SIZE + 4, start, 4);
        putLe(e, 4 + NAME_SIZE + 8, length, 4);
        out.writeBytes(e);
        return this;
    }

    public byte[] toBytes() {
        return out.toByteArray();
    }

    private static byte[] entry(int command) {
        byte[] e = new byte[ENTRY_SIZE];
        putLe(e, 0, command, 4);
        return e;
    }

    private static void name(byte[] e, int at, String file) {
        byte[] n = file.getBytes(StandardCharsets.US_ASCII);
        if (n.length == 0 || n.length >= NAME_SIZE) {
            throw new IllegalArgumentException("file name '" + file + "' is not 1 to 55 characters");
        }
        System.arraycopy(n, 0, e, at, n.length);
    }

    static void putLe(byte[] b, int at, long value, int size) {
        for (int i = 0; i < size; i++) {
            b[at + i] = (byte) (value >>> (8 * i));
        }
    }
}
