package vessel.vmm.x86;

import vessel.kvm.Regs;
import vessel.kvm.Sregs;

/**
 * The semantics of each instruction Vessel completes for a host KVM that could not. Each case does
 * exactly what the CPU would have done (registers, flags, memory, RIP) or injects the fault the CPU
 * would have raised; anything else is left to the caller to report.
 */
public final class Assists {
    /** The assist kinds, counted per VM. */
    public enum Kind {
        INT3(false), INT_N(false), ICEBP(false), CLAC(true), STAC(true), FWAIT(true), LDMXCSR(true), STMXCSR(true),
        POPCNT(true), MOVBE(true),
        /** SSE2 register forms: movd/movq between a general register and XMM (66 0F 6E/7E). */
        MOVD(true),
        /** movq between XMM registers (F3 0F 7E, 66 0F D6). */
        MOVQ(true),
        /** movdqa/movdqu between XMM registers (66/F3 0F 6F/7F). */
        MOVDQ(true),
        /** paddd, paddq. */
        PADD(true),
        /** pand, por, pxor. */
        PLOGIC(true),
        /** punpckldq, punpckhdq, punpcklqdq, punpckhqdq. */
        PUNPCK(true),
        /** Shifts by immediate: psrlw/d/q, psraw/d, psllw/d/q, psrldq, pslldq. */
        PSHIFT(true),
        PSHUFD(true),
        /** An instruction whose memory operand the CPU would have refused: #PF given to the guest instead. */
        PAGE_FAULT(false);

        /** Whether the instruction completes like any other, so RFLAGS.TF makes it trap after it. */
        final boolean stepTraps;

        Kind(boolean stepTraps) {
            this.stepTraps = stepTraps;
        }
    }

    /** What happened: the kind completed, or why nothing was done. */
    public record Outcome(Kind kind, String unsupported) {
        static Outcome done(Kind kind) {
            return new Outcome(kind, null);
        }

        static Outcome unsupported(String why) {
            return new Outcome(null, why);
        }

        public boolean completed() {
            return kind != null;
        }
    }

    static final long RFLAGS_CF = 1L;
    static final long RFLAGS_PF = 1L << 2;
    static final long RFLAGS_AF = 1L << 4;
    static final long RFLAGS_ZF = 1L << 6;
    static final long RFLAGS_SF = 1L << 7;
    static final long RFLAGS_OF = 1L << 11;
    static final long RFLAGS_TF = 1L << 8;
    static final long RFLAGS_IOPL = 3L << 12;
    static final long RFLAGS_VM = 1L << 17;
    static final long RFLAGS_AC = 1L << 18;
    static final int VECTOR_DB = 1;
    static final int VECTOR_BP = 3;
    static final int VECTOR_UD = 6;
    static final int VECTOR_NM = 7;
    static final int VECTOR_NP = 11;
    static final int VECTOR_PF = 14;
    static final int VECTOR_GP = 13;
    /** The MXCSR bits of a CPU that reports MXCSR_MASK 0: all of the low 16 but DAZ (bit 6). */
    public static final int MXCSR_DEFAULT_MASK = 0xffbf;

    private Assists() {}

    /** The code size the vCPU is executing in: 16, 32 or 64. */
    public static int codeSize(Sregs s) {
        if ((s.efer & Sregs.EFER_LMA) != 0 && s.cs.l()) {
            return 64;
        }
        return (s.cr0 & Sregs.CR0_PE) != 0 && s.cs.db() ? 32 : 16;
    }

    /**
     * Completes {@code insn} on {@code cpu}, or says why not. An operand the CPU would have refused with
     * a page fault gets the guest that #PF instead (counted as {@link Kind#PAGE_FAULT}), RIP unchanged.
     */
    public static Outcome complete(Instruction insn, CpuAccess cpu) throws Exception {
        try {
            return completeOrFault(insn, cpu);
        } catch (PageFault f) {
            cpu.injectPageFault(f.address(), f.errorCode());
            return Outcome.done(Kind.PAGE_FAULT);
        }
    }

    private static Outcome completeOrFault(Instruction insn, CpuAccess cpu) throws Exception {
        Regs regs = cpu.regs();
        long next = regs.rip + insn.length();
        Outcome outcome = semantics(insn, cpu, regs, next);
        // With TF set as the instruction began, the CPU traps once it completes (not when it faulted:
        // then RIP is still on it). int3, int n and icebp clear TF as they enter their handler.
        if (outcome.completed() && outcome.kind().stepTraps && (regs.rflags & RFLAGS_TF) != 0
                && cpu.regs().rip == next) {
            cpu.raiseSingleStep();
        }
        return outcome;
    }

    private static Outcome semantics(Instruction insn, CpuAccess cpu, Regs regs, long next) throws Exception {
        switch (insn.opcodeMap()) {
            case 0 -> {
                switch (insn.opcode()) {
                    case 0xcc -> {
                        if (gateFault(VECTOR_BP, cpu, regs)) {
                            return Outcome.done(Kind.INT3);
                        }
                        regs.rip = next; // a trap: the guest's handler sees the address after int3
                        cpu.setRegs(regs);
                        cpu.injectException(VECTOR_BP, null);
                        return Outcome.done(Kind.INT3);
                    }
                    case 0xf1 -> {
                        regs.rip = next; // icebp (int1): a #DB trap, the handler sees the address after it
                        cpu.setRegs(regs);
                        cpu.injectException(VECTOR_DB, null);
                        return Outcome.done(Kind.ICEBP);
                    }
                    case 0xcd -> {
                        if (gateFault(insn.imm8(), cpu, regs)) {
                            return Outcome.done(Kind.INT_N);
                        }
                        regs.rip = next;
                        cpu.setRegs(regs);
                        cpu.injectInterrupt(insn.imm8());
                        return Outcome.done(Kind.INT_N);
                    }
                    case 0x9b -> {
                        // fwait only raises a pending x87 exception; with none pending it does nothing.
                        regs.rip = next;
                        cpu.setRegs(regs);
                        return Outcome.done(Kind.FWAIT);
                    }
                    default -> {
                        return Outcome.unsupported("no assist for this instruction");
                    }
                }
            }
            case 1 -> {
                if (insn.opcode() == 0x01 && insn.mod() == 3 && insn.reg() == 1 && (insn.rm() & 7) >= 2 && (insn.rm() & 7) <= 3) {
                    boolean stac = (insn.rm() & 7) == 3;
                    if (cpl(cpu.sregs(), regs.rflags) > 0 || insn.lock()) {
                        cpu.injectException(VECTOR_UD, null); // CLAC/STAC are ring-0 only
                        return Outcome.done(stac ? Kind.STAC : Kind.CLAC);
                    }
                    regs.rflags = stac ? regs.rflags | RFLAGS_AC : regs.rflags & ~RFLAGS_AC;
                    regs.rip = next;
                    cpu.setRegs(regs);
                    return Outcome.done(stac ? Kind.STAC : Kind.CLAC);
                }
                if (insn.opcode() == 0xae && insn.memoryOperand() && (insn.reg() & 7) == 2) {
                    return ldmxcsr(insn, cpu, regs, next);
                }
                if (insn.opcode() == 0xae && insn.memoryOperand() && (insn.reg() & 7) == 3) {
                    long ea = effectiveAddress(insn, regs, cpu.sregs());
                    cpu.writeLinear(ea, le(cpu.mxcsr(), 4));
                    regs.rip = next;
                    cpu.setRegs(regs);
                    return Outcome.done(Kind.STMXCSR);
                }
                if (insn.opcode() == 0xb8 && insn.rep() && !insn.repne()) {
                    return popcnt(insn, cpu, regs, next);
                }
                Kind sse2 = sse2Kind(insn);
                if (sse2 != null) {
                    return sse2(insn, sse2, cpu, regs, next);
                }
                return Outcome.unsupported("no assist for this instruction");
            }
            case 2 -> {
                if ((insn.opcode() == 0xf0 || insn.opcode() == 0xf1) && insn.memoryOperand() && !insn.repne() && !insn.rep()) {
                    return movbe(insn, cpu, regs, next);
                }
                return Outcome.unsupported("no assist for this instruction");
            }
            default -> {
                return Outcome.unsupported("no assist for this instruction");
            }
        }
    }

    private static Outcome ldmxcsr(Instruction insn, CpuAccess cpu, Regs regs, long next) throws Exception {
        long ea = effectiveAddress(insn, regs, cpu.sregs());
        int value = (int) fromLe(cpu.readLinear(ea, 4));
        int mask = cpu.mxcsrMask();
        if ((value & ~(mask == 0 ? MXCSR_DEFAULT_MASK : mask)) != 0) {
            cpu.injectException(VECTOR_GP, 0); // reserved bits: #GP(0), RIP stays on the instruction
            return Outcome.done(Kind.LDMXCSR);
        }
        cpu.setMxcsr(value);
        regs.rip = next;
        cpu.setRegs(regs);
        return Outcome.done(Kind.LDMXCSR);
    }

    private static Outcome popcnt(Instruction insn, CpuAccess cpu, Regs regs, long next) throws Exception {
        int size = insn.operandSize();
        long src = insn.memoryOperand()
                ? fromLe(cpu.readLinear(effectiveAddress(insn, regs, cpu.sregs()), size))
                : regs.gpr(insn.rm()) & mask(size);
        long count = Long.bitCount(src & mask(size));
        writeRegister(regs, insn.reg(), size, count);
        regs.rflags &= ~(RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF | RFLAGS_SF | RFLAGS_OF);
        if ((src & mask(size)) == 0) {
            regs.rflags |= RFLAGS_ZF;
        }
        regs.rip = next;
        cpu.setRegs(regs);
        return Outcome.done(Kind.POPCNT);
    }

    private static Outcome movbe(Instruction insn, CpuAccess cpu, Regs regs, long next) throws Exception {
        int size = insn.operandSize();
        long ea = effectiveAddress(insn, regs, cpu.sregs());
        if (insn.opcode() == 0xf0) {
            writeRegister(regs, insn.reg(), size, swap(fromLe(cpu.readLinear(ea, size)), size));
        } else {
            cpu.writeLinear(ea, le(swap(regs.gpr(insn.reg()), size), size));
        }
        regs.rip = next;
        cpu.setRegs(regs);
        return Outcome.done(Kind.MOVBE);
    }

    /**
     * The vCPU's current privilege level: 0 in real mode, 3 in virtual-8086 mode, else SS.DPL, where
     * KVM keeps it (VMX reads the CPL from SS's access rights, SVM keeps it equal to SS.DPL).
     */
    static int cpl(Sregs s, long rflags) {
        if ((s.cr0 & Sregs.CR0_PE) == 0) {
            return 0;
        }
        return (rflags & RFLAGS_VM) != 0 ? 3 : s.ss.dpl();
    }

    /**
     * The checks the CPU makes on a software interrupt's (int n, int3) IDT gate before delivering it,
     * which an interrupt injected by KVM skips: past the IDT limit is #GP, a gate whose DPL is below the
     * CPL is #GP (user mode may only use the gates the kernel opened to it), a gate not present is #NP;
     * each with the gate as error code ({@code vector << 3 | 2}, IDT bit) and RIP left on the
     * instruction. In virtual-8086 mode with IOPL below 3, int n is #GP(0). Returns whether it faulted
     * (and injected the fault); real mode has no gates to check.
     */
    private static boolean gateFault(int vector, CpuAccess cpu, Regs regs) throws Exception {
        Sregs s = cpu.sregs();
        if ((s.cr0 & Sregs.CR0_PE) == 0) {
            return false;
        }
        int gateCode = vector << 3 | 2;
        if ((regs.rflags & RFLAGS_VM) != 0 && (regs.rflags & RFLAGS_IOPL) != RFLAGS_IOPL && vector != VECTOR_BP) {
            cpu.injectException(VECTOR_GP, 0);
            return true;
        }
        int size = (s.efer & Sregs.EFER_LMA) != 0 ? 16 : 8;
        if ((long) vector * size + size - 1 > (s.idt.limit() & 0xffffL)) {
            cpu.injectException(VECTOR_GP, gateCode);
            return true;
        }
        int access = cpu.readSystem(s.idt.base() + (long) vector * size + 5, 1)[0] & 0xff;
        if (((access >> 5) & 3) < cpl(s, regs.rflags)) {
            cpu.injectException(VECTOR_GP, gateCode);
            return true;
        }
        if ((access & 0x80) == 0) {
            cpu.injectException(VECTOR_NP, gateCode);
            return true;
        }
        return false;
    }

    /**
     * Which SSE2 integer instruction this is, by opcode and mandatory prefix (66, or F3 for movq and
     * movdqu); null for anything else, the MMX forms without a prefix included.
     */
    private static Kind sse2Kind(Instruction insn) {
        if (insn.repne()) {
            return null;
        }
        if (insn.rep()) {
            return switch (insn.opcode()) {
                case 0x7e -> Kind.MOVQ;
                case 0x6f, 0x7f -> Kind.MOVDQ;
                default -> null;
            };
        }
        if (!insn.opsizePrefix()) {
            return null;
        }
        return switch (insn.opcode()) {
            case 0x6e, 0x7e -> Kind.MOVD;
            case 0xd6 -> Kind.MOVQ;
            case 0x6f, 0x7f -> Kind.MOVDQ;
            case 0xfe, 0xd4 -> Kind.PADD;
            case 0xdb, 0xeb, 0xef -> Kind.PLOGIC;
            case 0x62, 0x6a, 0x6c, 0x6d -> Kind.PUNPCK;
            case 0x71, 0x72, 0x73 -> Kind.PSHIFT;
            case 0x70 -> Kind.PSHUFD;
            default -> null;
        };
    }

    /**
     * An SSE2 register-to-register instruction. The CPU's checks come first: LOCK, CR0.EM or CR4.OSFXSR
     * clear are #UD, CR0.TS is #NM (the guest's lazy FPU switch); then the operation on the XMM
     * registers (and a general register for movd/movq), exactly as the SDM gives it.
     */
    private static Outcome sse2(Instruction insn, Kind kind, CpuAccess cpu, Regs regs, long next) throws Exception {
        if (insn.memoryOperand()) {
            return Outcome.unsupported("SSE2 with a memory operand: only register forms are completed");
        }
        Sregs s = cpu.sregs();
        if (insn.lock() || (s.cr0 & Sregs.CR0_EM) != 0 || (s.cr4 & Sregs.CR4_OSFXSR) == 0) {
            cpu.injectException(VECTOR_UD, null);
            return Outcome.done(kind);
        }
        if ((s.cr0 & Sregs.CR0_TS) != 0) {
            cpu.injectException(VECTOR_NM, null);
            return Outcome.done(kind);
        }
        int reg = insn.reg();
        int rm = insn.rm();
        switch (kind) {
            case MOVD -> {
                boolean wide = insn.operandSize() == 8; // REX.W: movq
                if (insn.opcode() == 0x6e) {
                    long v = regs.gpr(rm);
                    cpu.setXmm(reg, new Xmm(wide ? v : v & 0xffff_ffffL, 0));
                } else {
                    writeRegister(regs, rm, wide ? 8 : 4, cpu.xmm(reg).lo());
                }
            }
            case MOVQ -> {
                // F3 0F 7E: xmm(reg) <- xmm(rm); 66 0F D6: xmm(rm) <- xmm(reg); the upper half cleared.
                boolean load = insn.opcode() == 0x7e;
                cpu.setXmm(load ? reg : rm, new Xmm(cpu.xmm(load ? rm : reg).lo(), 0));
            }
            case MOVDQ -> {
                boolean load = insn.opcode() == 0x6f;
                cpu.setXmm(load ? reg : rm, cpu.xmm(load ? rm : reg));
            }
            case PADD -> {
                int bits = insn.opcode() == 0xfe ? 32 : 64;
                long[] a = cpu.xmm(reg).lanes(bits);
                long[] b = cpu.xmm(rm).lanes(bits);
                for (int i = 0; i < a.length; i++) {
                    a[i] += b[i];
                }
                cpu.setXmm(reg, Xmm.ofLanes(a, bits));
            }
            case PLOGIC -> {
                Xmm a = cpu.xmm(reg);
                Xmm b = cpu.xmm(rm);
                cpu.setXmm(reg, switch (insn.opcode()) {
                    case 0xdb -> new Xmm(a.lo() & b.lo(), a.hi() & b.hi());
                    case 0xeb -> new Xmm(a.lo() | b.lo(), a.hi() | b.hi());
                    default -> new Xmm(a.lo() ^ b.lo(), a.hi() ^ b.hi());
                });
            }
            case PUNPCK -> {
                long[] a = cpu.xmm(reg).lanes(32);
                long[] b = cpu.xmm(rm).lanes(32);
                cpu.setXmm(reg, Xmm.ofLanes(switch (insn.opcode()) {
                    case 0x62 -> new long[] {a[0], b[0], a[1], b[1]}; // punpckldq
                    case 0x6a -> new long[] {a[2], b[2], a[3], b[3]}; // punpckhdq
                    case 0x6c -> new long[] {a[0], a[1], b[0], b[1]}; // punpcklqdq
                    default -> new long[] {a[2], a[3], b[2], b[3]}; // punpckhqdq
                }, 32));
            }
            case PSHIFT -> {
                Xmm shifted = shiftByImmediate(insn.opcode(), insn.reg() & 7, cpu.xmm(rm), insn.imm8());
                if (shifted == null) {
                    return Outcome.unsupported("no such shift in groups 12-14 (#UD on the CPU)");
                }
                cpu.setXmm(rm, shifted);
            }
            case PSHUFD -> {
                long[] src = cpu.xmm(rm).lanes(32);
                long[] out = new long[4];
                for (int i = 0; i < 4; i++) {
                    out[i] = src[(insn.imm8() >> (2 * i)) & 3];
                }
                cpu.setXmm(reg, Xmm.ofLanes(out, 32));
            }
            default -> throw new IllegalStateException("not an SSE2 kind: " + kind);
        }
        regs.rip = next;
        cpu.setRegs(regs);
        return Outcome.done(kind);
    }

    /**
     * Groups 12-14 (66 0F 71/72/73 /op ib) on {@code v}: logical shifts by more than the lane width give
     * zero, arithmetic ones fill with the sign; psrldq/pslldq shift whole bytes, more than 15 give zero.
     * Null for an /op the group does not define.
     */
    static Xmm shiftByImmediate(int opcode, int op, Xmm v, int count) {
        if (opcode == 0x73 && (op == 3 || op == 7)) {
            if (count > 15) {
                return Xmm.ZERO;
            }
            byte[] in = v.bytes();
            byte[] out = new byte[16];
            for (int i = 0; i < 16; i++) {
                int from = op == 3 ? i + count : i - count; // psrldq moves bytes down, pslldq up
                out[i] = from >= 0 && from < 16 ? in[from] : 0;
            }
            return Xmm.fromBytes(out, 0);
        }
        int bits = switch (opcode) {
            case 0x71 -> 16;
            case 0x72 -> 32;
            default -> 64;
        };
        boolean arithmetic = op == 4 && bits != 64;
        if (op != 2 && op != 6 && !arithmetic) {
            return null;
        }
        long[] lanes = v.lanes(bits);
        for (int i = 0; i < lanes.length; i++) {
            long x = lanes[i];
            if (arithmetic) {
                long signed = (x << (64 - bits)) >> (64 - bits);
                lanes[i] = signed >> Math.min(count, bits - 1);
            } else if (count >= bits) {
                lanes[i] = 0;
            } else {
                lanes[i] = op == 2 ? x >>> count : x << count;
            }
        }
        return Xmm.ofLanes(lanes, bits);
    }

    /** The linear address of a memory operand: segment base + base + index * scale + displacement. */
    public static long effectiveAddress(Instruction insn, Regs regs, Sregs sregs) {
        long offset = insn.displacement();
        if (insn.ripRelative()) {
            offset += regs.rip + insn.length();
        }
        if (insn.base() >= 0) {
            offset += regs.gpr(insn.base());
        }
        if (insn.index() >= 0) {
            offset += regs.gpr(insn.index()) * insn.scale();
        }
        offset &= mask(insn.addressSize());
        boolean stackDefault = insn.base() == 4 || insn.base() == 5;
        long segBase = switch (insn.segment()) {
            case 0x64 -> sregs.fs.base();
            case 0x65 -> sregs.gs.base();
            case 0x26 -> sregs.es.base();
            case 0x2e -> sregs.cs.base();
            case 0x36 -> sregs.ss.base();
            case 0x3e -> sregs.ds.base();
            default -> stackDefault ? sregs.ss.base() : sregs.ds.base();
        };
        boolean longMode = (sregs.efer & Sregs.EFER_LMA) != 0 && sregs.cs.l();
        if (longMode && insn.segment() != 0x64 && insn.segment() != 0x65) {
            segBase = 0; // in 64-bit mode only FS and GS have bases
        }
        long linear = segBase + offset;
        return longMode ? linear : linear & 0xffff_ffffL;
    }

    /** Writes a general register as the CPU does: 32-bit results zero-extend, 8/16-bit ones merge. */
    static void writeRegister(Regs regs, int reg, int size, long value) {
        long v = switch (size) {
            case 8 -> value;
            case 4 -> value & 0xffff_ffffL;
            default -> (regs.gpr(reg) & ~mask(size)) | (value & mask(size));
        };
        regs.setGpr(reg, v);
    }

    static long mask(int bytes) {
        return bytes >= 8 ? -1L : (1L << (8 * bytes)) - 1;
    }

    static long swap(long v, int size) {
        return switch (size) {
            case 2 -> Short.reverseBytes((short) v) & 0xffffL;
            case 4 -> Integer.reverseBytes((int) v) & 0xffff_ffffL;
            default -> Long.reverseBytes(v);
        };
    }

    static byte[] le(long v, int size) {
        byte[] b = new byte[size];
        for (int i = 0; i < size; i++) {
            b[i] = (byte) (v >>> (8 * i));
        }
        return b;
    }

    static long fromLe(byte[] b) {
        long v = 0;
        for (int i = b.length - 1; i >= 0; i--) {
            v = (v << 8) | (b[i] & 0xff);
        }
        return v;
    }
}
