package vessel.boot.acpi;

import java.nio.charset.StandardCharsets;

/**
 * Encodes the few ACPI Machine Language constructs a virtual platform's DSDT needs (ACPI 6.5, section 20):
 * names, data objects, and the scoping terms Device, Scope and Method. Each method returns the encoded
 * term; terms nest by passing one method's result into another.
 */
public final class Aml {
    private static final int ZERO_OP = 0x00;
    private static final int ONE_OP = 0x01;
    private static final int NAME_OP = 0x08;
    private static final int BYTE_PREFIX = 0x0a;
    private static final int WORD_PREFIX = 0x0b;
    private static final int DWORD_PREFIX = 0x0c;
    private static final int STRING_PREFIX = 0x0d;
    private static final int QWORD_PREFIX = 0x0e;
    private static final int SCOPE_OP = 0x10;
    private static final int BUFFER_OP = 0x11;
    private static final int PACKAGE_OP = 0x12;
    private static final int METHOD_OP = 0x14;
    private static final int RETURN_OP = 0xa4;
    private static final int IF_OP = 0xa0;
    private static final int LEQUAL_OP = 0x93;
    private static final int NOTIFY_OP = 0x86;
    private static final int ARG0_OP = 0x68;
    private static final int EXT_OP_PREFIX = 0x5b;
    private static final int DEVICE_OP = 0x82; // after EXT_OP_PREFIX
    private static final int DUAL_NAME_PREFIX = 0x2e;
    private static final int MULTI_NAME_PREFIX = 0x2f;
    private static final int NULL_NAME = 0x00;
    private static final char ROOT_CHAR = '\\';
    private static final char PARENT_PREFIX_CHAR = '^';

    /** The largest length a PkgLength can say: 4 bits in the lead byte and 8 in each of three more. */
    static final int MAX_PACKAGE_LENGTH = (1 << 28) - 1;

    private Aml() {}

    /**
     * A NameSeg: four characters, the first {@code A-Z} or {@code _}, the rest also digits. A shorter name is
     * padded with {@code _}, as ASL does ({@code _SB} is {@code _SB_}).
     */
    public static byte[] nameSeg(String name) {
        if (name.isEmpty() || name.length() > 4) {
            throw new IllegalArgumentException("a name segment has 1 to 4 characters: '" + name + "'");
        }
        byte[] seg = {'_', '_', '_', '_'};
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            boolean valid = c == '_' || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9');
            if (!valid) {
                throw new IllegalArgumentException("bad character '" + c + "' in name segment '" + name + "'");
            }
            seg[i] = (byte) c;
        }
        return seg;
    }

    /**
     * A NameString in ASL's notation: an optional {@code \} (from the root) or {@code ^}s (from the parent
     * scopes), then segments separated by dots, such as {@code \_SB.PCI0} or {@code COM1}. {@code \} alone
     * is the root.
     */
    public static byte[] namePath(String path) {
        ByteWriter out = new ByteWriter();
        int i = 0;
        if (path.startsWith(String.valueOf(ROOT_CHAR))) {
            out.u8(ROOT_CHAR);
            i = 1;
        } else {
            while (i < path.length() && path.charAt(i) == PARENT_PREFIX_CHAR) {
                out.u8(PARENT_PREFIX_CHAR);
                i++;
            }
        }
        String rest = path.substring(i);
        if (rest.isEmpty()) {
            if (i == 0) {
                throw new IllegalArgumentException("empty name");
            }
            return out.u8(NULL_NAME).toByteArray();
        }
        String[] segments = rest.split("\\.", -1);
        if (segments.length == 2) {
            out.u8(DUAL_NAME_PREFIX);
        } else if (segments.length > 2) {
            if (segments.length > 255) {
                throw new IllegalArgumentException("a name path has at most 255 segments: " + path);
            }
            out.u8(MULTI_NAME_PREFIX).u8(segments.length);
        }
        for (String segment : segments) {
            out.bytes(nameSeg(segment));
        }
        return out.toByteArray();
    }

    /** {@code Name(path, object)}: a named data object. */
    public static byte[] name(String path, byte[] object) {
        return new ByteWriter().u8(NAME_OP).bytes(namePath(path)).bytes(object).toByteArray();
    }

    /** An integer in the shortest encoding: Zero, One, or a byte, word, dword or qword constant. */
    public static byte[] integer(long value) {
        ByteWriter out = new ByteWriter();
        if (value == 0) {
            out.u8(ZERO_OP);
        } else if (value == 1) {
            out.u8(ONE_OP);
        } else if (value >>> 8 == 0) {
            out.u8(BYTE_PREFIX).u8((int) value);
        } else if (value >>> 16 == 0) {
            out.u8(WORD_PREFIX).u16((int) value);
        } else if (value >>> 32 == 0) {
            out.u8(DWORD_PREFIX).u32(value);
        } else {
            out.u8(QWORD_PREFIX).u64(value);
        }
        return out.toByteArray();
    }

    /** A string constant: ASCII (AML strings are 7-bit), NUL-terminated. */
    public static byte[] string(String text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == 0 || c > 0x7f) {
                throw new IllegalArgumentException("AML strings are ASCII without NUL: '" + text + "'");
            }
        }
        return new ByteWriter().u8(STRING_PREFIX).bytes(text.getBytes(StandardCharsets.US_ASCII)).u8(0).toByteArray();
    }

    /**
     * ASL's {@code EisaId("PNP0501")}: three letters packed 5 bits each and four hex digits, stored so the
     * bytes read in the order they are written (the compressed ID is big-endian inside a little-endian
     * dword).
     */
    public static byte[] eisaId(String id) {
        if (!id.matches("[A-Z]{3}[0-9A-F]{4}")) {
            throw new IllegalArgumentException("an EISA ID is three capital letters and four hex digits: '" + id + "'");
        }
        int vendor = ((id.charAt(0) - 0x40) << 10) | ((id.charAt(1) - 0x40) << 5) | (id.charAt(2) - 0x40);
        int product = Integer.parseInt(id.substring(3), 16);
        return new ByteWriter().u8(DWORD_PREFIX)
                .u8(vendor >> 8).u8(vendor).u8(product >> 8).u8(product)
                .toByteArray();
    }

    /** {@code Package() {elements}}: a fixed package of up to 255 data objects. */
    public static byte[] packageOf(byte[]... elements) {
        if (elements.length > 255) {
            throw new IllegalArgumentException("a fixed package holds at most 255 elements");
        }
        byte[] body = new ByteWriter().u8(elements.length).bytes(concat(elements)).toByteArray();
        return withPackageLength(new byte[] {PACKAGE_OP}, body);
    }

    /** {@code Buffer() {bytes}}: a buffer whose size is its contents' length. */
    public static byte[] buffer(byte[] contents) {
        byte[] body = new ByteWriter().bytes(integer(contents.length)).bytes(contents).toByteArray();
        return withPackageLength(new byte[] {BUFFER_OP}, body);
    }

    /** {@code Device(name) {terms}}. */
    public static byte[] device(String name, byte[]... terms) {
        return named(new byte[] {EXT_OP_PREFIX, (byte) DEVICE_OP}, name, terms);
    }

    /** {@code Scope(path) {terms}}: terms placed in an existing namespace scope, such as {@code \_SB}. */
    public static byte[] scope(String path, byte[]... terms) {
        return named(new byte[] {SCOPE_OP}, path, terms);
    }

    /**
     * {@code Method(name, argCount, Serialized|NotSerialized) {terms}}, sync level 0. Enough for the
     * constant-returning methods a virtual device needs ({@code _STA}, {@code _ADR}).
     */
    public static byte[] method(String name, int argCount, boolean serialized, byte[]... terms) {
        if (argCount < 0 || argCount > 7) {
            throw new IllegalArgumentException("a method takes 0 to 7 arguments, not " + argCount);
        }
        int flags = argCount | (serialized ? 0x08 : 0);
        byte[] body = new ByteWriter().bytes(namePath(name)).u8(flags).bytes(concat(terms)).toByteArray();
        return withPackageLength(new byte[] {METHOD_OP}, body);
    }

    /** {@code Return(value)}. */
    public static byte[] returnValue(byte[] value) {
        return new ByteWriter().u8(RETURN_OP).bytes(value).toByteArray();
    }

    /** {@code ArgN}: a method's argument {@code n} (0 to 6). */
    public static byte[] arg(int n) {
        if (n < 0 || n > 6) {
            throw new IllegalArgumentException("a method's arguments are Arg0 to Arg6, not Arg" + n);
        }
        return new byte[] {(byte) (ARG0_OP + n)};
    }

    /** {@code LEqual(left, right)}: One when the two integers are equal, else Zero. */
    public static byte[] lEqual(byte[] left, byte[] right) {
        return new ByteWriter().u8(LEQUAL_OP).bytes(left).bytes(right).toByteArray();
    }

    /** {@code If (predicate) {terms}}, without an Else. */
    public static byte[] ifThen(byte[] predicate, byte[]... terms) {
        return withPackageLength(new byte[] {(byte) IF_OP}, concat(predicate, concat(terms)));
    }

    /** {@code Notify(path, value)}: tells the OS's driver of the object at {@code path} of event {@code value}. */
    public static byte[] notify(String path, int value) {
        return new ByteWriter().u8(NOTIFY_OP).bytes(namePath(path)).bytes(integer(value)).toByteArray();
    }

    /** The terms one after another: a TermList. */
    public static byte[] concat(byte[]... terms) {
        ByteWriter out = new ByteWriter();
        for (byte[] term : terms) {
            out.bytes(term);
        }
        return out.toByteArray();
    }

    /**
     * The PkgLength for a body of {@code bodyLength} bytes. The length it encodes counts its own bytes, so
     * the encoding picks the fewest bytes that hold body plus encoding: one byte holds up to 63 in its low
     * six bits; otherwise the lead byte's top two bits count the bytes that follow, its low four bits are
     * the length's least significant nibble, and each following byte carries the next eight bits.
     */
    static byte[] pkgLength(int bodyLength) {
        if (bodyLength < 0) {
            throw new IllegalArgumentException("negative length");
        }
        if (bodyLength + 1 <= 0x3f) {
            return new byte[] {(byte) (bodyLength + 1)};
        }
        for (int following = 1; following <= 3; following++) {
            long total = (long) bodyLength + 1 + following;
            if (total < 1L << (4 + 8 * following)) {
                byte[] encoded = new byte[1 + following];
                encoded[0] = (byte) ((following << 6) | (total & 0x0f));
                for (int i = 1; i <= following; i++) {
                    encoded[i] = (byte) (total >>> (4 + 8 * (i - 1)));
                }
                return encoded;
            }
        }
        throw new IllegalArgumentException("an AML package holds at most " + MAX_PACKAGE_LENGTH + " bytes");
    }

    private static byte[] named(byte[] opcode, String name, byte[]... terms) {
        byte[] body = new ByteWriter().bytes(namePath(name)).bytes(concat(terms)).toByteArray();
        return withPackageLength(opcode, body);
    }

    private static byte[] withPackageLength(byte[] opcode, byte[] body) {
        return new ByteWriter().bytes(opcode).bytes(pkgLength(body.length)).bytes(body).toByteArray();
    }
}
