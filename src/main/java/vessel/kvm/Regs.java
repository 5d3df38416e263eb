package vessel.kvm;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** {@code struct kvm_regs}: the general-purpose registers, RIP and RFLAGS. A mutable value, like the C struct. */
public final class Regs {
    static final String[] NAMES = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
        "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags"};
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            java.util.Arrays.stream(NAMES).map(n -> JAVA_LONG.withName(n)).toArray(MemoryLayout[]::new))
            .withName("kvm_regs");

    /** RFLAGS bit 1 is reserved and always set. */
    public static final long RFLAGS_RESERVED = 0x2;

    public long rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp, r8, r9, r10, r11, r12, r13, r14, r15, rip;
    public long rflags = RFLAGS_RESERVED;

    static Regs read(MemorySegment s) {
        Regs r = new Regs();
        long[] v = s.asSlice(0, LAYOUT.byteSize()).toArray(JAVA_LONG);
        r.rax = v[0]; r.rbx = v[1]; r.rcx = v[2]; r.rdx = v[3]; r.rsi = v[4]; r.rdi = v[5];
        r.rsp = v[6]; r.rbp = v[7]; r.r8 = v[8]; r.r9 = v[9]; r.r10 = v[10]; r.r11 = v[11];
        r.r12 = v[12]; r.r13 = v[13]; r.r14 = v[14]; r.r15 = v[15]; r.rip = v[16]; r.rflags = v[17];
        return r;
    }

    void write(MemorySegment s) {
        long[] v = {rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp, r8, r9, r10, r11, r12, r13, r14, r15, rip, rflags};
        MemorySegment.copy(v, 0, s, JAVA_LONG, 0, v.length);
    }

    /** General-purpose register by its x86 encoding number (0 = RAX ... 15 = R15). */
    public long gpr(int n) {
        return switch (n) {
            case 0 -> rax; case 1 -> rcx; case 2 -> rdx; case 3 -> rbx;
            case 4 -> rsp; case 5 -> rbp; case 6 -> rsi; case 7 -> rdi;
            case 8 -> r8; case 9 -> r9; case 10 -> r10; case 11 -> r11;
            case 12 -> r12; case 13 -> r13; case 14 -> r14; case 15 -> r15;
            default -> throw new IllegalArgumentException("register " + n);
        };
    }

    public void setGpr(int n, long value) {
        switch (n) {
            case 0 -> rax = value; case 1 -> rcx = value; case 2 -> rdx = value; case 3 -> rbx = value;
            case 4 -> rsp = value; case 5 -> rbp = value; case 6 -> rsi = value; case 7 -> rdi = value;
            case 8 -> r8 = value; case 9 -> r9 = value; case 10 -> r10 = value; case 11 -> r11 = value;
            case 12 -> r12 = value; case 13 -> r13 = value; case 14 -> r14 = value; case 15 -> r15 = value;
            default -> throw new IllegalArgumentException("register " + n);
        }
    }
}
