package vessel.gdb;

import vessel.kvm.Regs;
import vessel.kvm.Sregs;

/**
 * The register file as GDB's i386:x86-64 target numbers it, in the 'g' packet's order: rax rbx rcx rdx
 * rsi rdi rbp rsp r8-r15 rip (8 bytes each), then eflags cs ss ds es fs gs (4 bytes each), little-endian
 * hex. GDB's x87 and SSE registers follow in its description; a 'g' reply that stops here leaves them
 * unavailable, which GDB accepts.
 */
final class GdbRegisters {
    /** Registers 0-16 are 8 bytes, 17-23 are 4. */
    static final int COUNT = 24;
    static final int RIP = 16;
    static final int EFLAGS = 17;
    /** Hex digits in a full 'g' reply. */
    static final int G_HEX_LENGTH = 2 * (17 * 8 + 7 * 4);
    /** x86 encoding number (Regs.gpr) of each of GDB's first 16 registers. */
    private static final int[] GPR = {0, 3, 1, 2, 6, 7, 5, 4, 8, 9, 10, 11, 12, 13, 14, 15};

    private GdbRegisters() {}

    static int size(int n) {
        return n <= RIP ? 8 : 4;
    }

    static long value(int n, Regs r, Sregs s) {
        if (n < 16) {
            return r.gpr(GPR[n]);
        }
        return switch (n) {
            case RIP -> r.rip;
            case EFLAGS -> r.rflags & 0xffff_ffffL;
            case 18 -> s.cs.selector();
            case 19 -> s.ss.selector();
            case 20 -> s.ds.selector();
            case 21 -> s.es.selector();
            case 22 -> s.fs.selector();
            case 23 -> s.gs.selector();
            default -> throw new IllegalArgumentException("register " + n);
        };
    }

    /** The 'g' reply. */
    static String all(Regs r, Sregs s) {
        StringBuilder sb = new StringBuilder(G_HEX_LENGTH);
        for (int n = 0; n < COUNT; n++) {
            Hex.appendLe(sb, value(n, r, s), size(n));
        }
        return sb.toString();
    }

    /**
     * Sets register {@code n} in {@code r}; false for one that cannot be set this way (the segment
     * selectors: changing one means loading a descriptor, which GDB has no business doing here).
     */
    static boolean set(int n, long v, Regs r) {
        if (n < 16) {
            r.setGpr(GPR[n], v);
            return true;
        }
        if (n == RIP) {
            r.rip = v;
            return true;
        }
        if (n == EFLAGS) {
            r.rflags = (r.rflags & ~0xffff_ffffL) | (v & 0xffff_ffffL) | Regs.RFLAGS_RESERVED;
            return true;
        }
        return false;
    }

    /**
     * Applies a 'G' packet's hex to {@code r}: the general registers, RIP and EFLAGS must be there;
     * segment selectors, if sent, must be unchanged. False if the hex is short or malformed.
     */
    static boolean setAll(String hex, Regs r, Sregs s) {
        int at = 0;
        Regs updated = copy(r);
        for (int n = 0; n < COUNT; n++) {
            int len = 2 * size(n);
            if (at + len > hex.length()) {
                return n > EFLAGS && copyInto(updated, r); // segments may be left out
            }
            Long v = Hex.parseLe(hex, at, size(n));
            if (v == null) {
                return false;
            }
            if (n > EFLAGS) {
                if (v != value(n, r, s)) {
                    return false;
                }
            } else {
                set(n, v, updated);
            }
            at += len;
        }
        return copyInto(updated, r);
    }

    private static Regs copy(Regs r) {
        Regs c = new Regs();
        for (int i = 0; i < 16; i++) {
            c.setGpr(i, r.gpr(i));
        }
        c.rip = r.rip;
        c.rflags = r.rflags;
        return c;
    }

    private static boolean copyInto(Regs from, Regs to) {
        for (int i = 0; i < 16; i++) {
            to.setGpr(i, from.gpr(i));
        }
        to.rip = from.rip;
        to.rflags = from.rflags;
        return true;
    }
}
