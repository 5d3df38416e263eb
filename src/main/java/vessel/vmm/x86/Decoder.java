package vessel.vmm.x86;

/**
 * Decodes one x86 instruction far enough for the assists: prefixes, the opcode and its map, and the
 * ModRM/SIB/displacement addressing form. Opcodes whose length it cannot know are refused, so an
 * assist never acts on a misread instruction.
 */
public final class Decoder {
    public static final int MAX_LENGTH = 15;

    private Decoder() {}

    /** {@code mode}: the code size, 16, 32 or 64. */
    public static Instruction decode(byte[] bytes, int mode) throws DecodeException {
        Reader in = new Reader(bytes);
        boolean lock = false;
        boolean rep = false;
        boolean repne = false;
        boolean opsizeOverride = false;
        boolean addrOverride = false;
        int segment = 0;
        int rex = 0;
        while (true) {
            int b = in.peek();
            switch (b) {
                case 0xf0 -> lock = true;
                case 0xf3 -> rep = true;
                case 0xf2 -> repne = true;
                case 0x66 -> opsizeOverride = true;
                case 0x67 -> addrOverride = true;
                case 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65 -> segment = b;
                default -> {
                    if (mode == 64 && (b & 0xf0) == 0x40) {
                        rex = b;
                        in.next();
                        b = in.peek();
                    }
                    return decodeOpcode(in, mode, lock, rep, repne, opsizeOverride, addrOverride, segment, rex);
                }
            }
            in.next();
            rex = 0; // a REX prefix only counts directly before the opcode
        }
    }

    private static Instruction decodeOpcode(Reader in, int mode, boolean lock, boolean rep, boolean repne,
                                            boolean opsizeOverride, boolean addrOverride, int segment, int rex)
            throws DecodeException {
        boolean rexW = (rex & 8) != 0;
        int operandSize = rexW ? 8 : (mode == 16) != opsizeOverride ? 2 : 4;
        int addressSize = mode == 64 ? (addrOverride ? 4 : 8) : (mode == 16) != addrOverride ? 2 : 4;
        int map = 0;
        int op = in.next();
        if (op == 0x0f) {
            op = in.next();
            map = 1;
            if (op == 0x38 || op == 0x3a) {
                map = op == 0x38 ? 2 : 3;
                op = in.next();
            }
        }
        Shape shape = shape(map, op);
        if (shape == null) {
            throw new DecodeException(String.format("opcode %s%02x is not one Vessel decodes",
                    map == 0 ? "" : map == 1 ? "0f " : map == 2 ? "0f 38 " : "0f 3a ", op));
        }
        int mod = 0, reg = 0, rm = 0, base = -1, index = -1, scale = 1;
        long disp = 0;
        boolean ripRelative = false;
        if (shape.modrm) {
            int modrm = in.next();
            mod = modrm >> 6;
            reg = ((modrm >> 3) & 7) | ((rex & 4) << 1);
            rm = modrm & 7;
            if (mod == 3) {
                rm |= (rex & 1) << 3;
            } else if (addressSize == 2) {
                // 16-bit addressing: fixed base/index pairs, no SIB.
                int[][] pairs = {{3, 6}, {3, 7}, {5, 6}, {5, 7}, {6, -1}, {7, -1}, {5, -1}, {3, -1}};
                if (mod == 0 && rm == 6) {
                    disp = (short) in.next16();
                } else {
                    base = pairs[rm][0];
                    index = pairs[rm][1];
                    disp = mod == 1 ? (byte) in.next() : mod == 2 ? (short) in.next16() : 0;
                }
            } else {
                if (rm == 4) {
                    int sib = in.next();
                    scale = 1 << (sib >> 6);
                    index = ((sib >> 3) & 7) | ((rex & 2) << 2);
                    if (index == 4) {
                        index = -1; // no index register
                    }
                    base = (sib & 7) | ((rex & 1) << 3);
                    if ((sib & 7) == 5 && mod == 0) {
                        base = -1;
                        disp = in.next32();
                    }
                } else if (rm == 5 && mod == 0) {
                    if (mode == 64) {
                        ripRelative = true;
                    }
                    disp = in.next32();
                } else {
                    base = rm | ((rex & 1) << 3);
                }
                if (mod == 1) {
                    disp = (byte) in.next();
                } else if (mod == 2) {
                    disp = in.next32();
                }
            }
            rm = mod == 3 ? rm : rm | ((rex & 1) << 3);
        }
        int imm8 = shape.imm8 ? in.next() : 0;
        return new Instruction(in.position(), map, op, lock, rep, repne, opsizeOverride, operandSize, addressSize, segment,
                shape.modrm, mod, reg, rm, base, index, scale, disp, ripRelative, imm8);
    }

    /** What follows an opcode: a ModRM byte, an 8-bit immediate. */
    private record Shape(boolean modrm, boolean imm8) {
        static final Shape NONE = new Shape(false, false);
        static final Shape MODRM = new Shape(true, false);
        static final Shape IMM8 = new Shape(false, true);
        static final Shape MODRM_IMM8 = new Shape(true, true);
    }

    /** The opcodes the assists handle or must recognise to report; null for anything else. */
    private static Shape shape(int map, int op) {
        return switch (map) {
            case 0 -> switch (op) {
                case 0xcc, 0xf1, 0x9b, 0xf4 -> Shape.NONE; // int3, icebp, fwait, hlt
                case 0xcd -> Shape.IMM8; // int n
                default -> null;
            };
            case 1 -> switch (op) {
                case 0x01, 0xae, 0xb8, 0xc7 -> Shape.MODRM; // group 7 (clac/stac...), group 15, popcnt, cmpxchg16b
                // SSE2 integer forms: movd/movq, movdqa/movdqu, movq, paddd/paddq, pand/por/pxor, punpck*
                case 0x6e, 0x7e, 0x6f, 0x7f, 0xd6, 0xfe, 0xd4, 0xdb, 0xeb, 0xef, 0x62, 0x6a, 0x6c, 0x6d -> Shape.MODRM;
                case 0x70, 0x71, 0x72, 0x73 -> Shape.MODRM_IMM8; // pshufd, shift groups 12-14 by immediate
                case 0x0b -> Shape.NONE; // ud2
                default -> null;
            };
            case 2 -> switch (op) {
                case 0xf0, 0xf1, 0x82 -> Shape.MODRM; // movbe load/store, invpcid (66 prefix)
                default -> null;
            };
            default -> null;
        };
    }

    private static final class Reader {
        private final byte[] b;
        private int pos;

        Reader(byte[] b) {
            this.b = b;
        }

        int peek() throws DecodeException {
            if (pos >= b.length || pos >= MAX_LENGTH) {
                throw new DecodeException("instruction bytes end before the instruction does");
            }
            return b[pos] & 0xff;
        }

        int next() throws DecodeException {
            int v = peek();
            pos++;
            return v;
        }

        int next16() throws DecodeException {
            return next() | next() << 8;
        }

        int next32() throws DecodeException {
            return next() | next() << 8 | next() << 16 | next() << 24;
        }

        int position() {
            return pos;
        }
    }
}
