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
        POPCNT(true), MOVBE(true);

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
    static final long RFLAGS_AC = 1L << 18;
    static final int VECTOR_DB = 1;
    static final int VECTOR_BP = 3;
    static final int VECTOR_UD = 6;
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

    public static Outcome complete(Instruction insn, CpuAccess cpu) throws Exception {
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
