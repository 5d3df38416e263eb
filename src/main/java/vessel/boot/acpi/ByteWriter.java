package vessel.boot.acpi;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/** Appends little-endian fields, the byte order of every ACPI structure and AML data object. */
final class ByteWriter {
    private byte[] bytes = new byte[64];
    private int size;

    ByteWriter u8(int value) {
        ensure(1);
        bytes[size++] = (byte) value;
        return this;
    }

    ByteWriter u16(int value) {
        return littleEndian(value, 2);
    }

    ByteWriter u32(long value) {
        return littleEndian(value, 4);
    }

    ByteWriter u64(long value) {
        return littleEndian(value, 8);
    }

    ByteWriter bytes(byte[] value) {
        ensure(value.length);
        System.arraycopy(value, 0, bytes, size, value.length);
        size += value.length;
        return this;
    }

    /** {@code text} in exactly {@code width} ASCII bytes, padded with spaces as ACPI's ID fields are. */
    ByteWriter ascii(String text, int width) {
        byte[] ascii = text.getBytes(StandardCharsets.US_ASCII);
        if (ascii.length > width) {
            throw new IllegalArgumentException("'" + text + "' is longer than " + width + " characters");
        }
        bytes(ascii);
        for (int i = ascii.length; i < width; i++) {
            u8(' ');
        }
        return this;
    }

    /** Zero bytes, for reserved fields. */
    ByteWriter zeros(int count) {
        ensure(count);
        size += count; // the array is zero beyond size: it only grows, and nothing is ever removed
        return this;
    }

    int size() {
        return size;
    }

    byte[] toByteArray() {
        return Arrays.copyOf(bytes, size);
    }

    private ByteWriter littleEndian(long value, int width) {
        ensure(width);
        for (int i = 0; i < width; i++) {
            bytes[size++] = (byte) (value >>> (8 * i));
        }
        return this;
    }

    private void ensure(int more) {
        if (size + more > bytes.length) {
            bytes = Arrays.copyOf(bytes, Math.max(bytes.length * 2, size + more));
        }
    }

    /**
     * The checksum for {@code data[from, to)}: computed while the checksum field (inside that range) is still
     * zero, and stored there, it makes the range sum to zero mod 256, which is what ACPI checks.
     */
    static byte checksum(byte[] data, int from, int to) {
        int sum = 0;
        for (int i = from; i < to; i++) {
            sum += data[i];
        }
        return (byte) -sum;
    }
}
