package vessel.vmm;

import java.util.HexFormat;
import java.util.concurrent.atomic.AtomicLongArray;

import vessel.kvm.KvmException;
import vessel.kvm.KvmRun;
import vessel.kvm.Regs;
import vessel.kvm.Sregs;
import vessel.kvm.Translation;
import vessel.kvm.VcpuEvents;
import vessel.kvm.VcpuFd;
import vessel.memory.GuestMemory;
import vessel.memory.GuestMemoryException;

/**
 * Completes instructions the host's KVM fails to emulate (KVM_EXIT_INTERNAL_ERROR, emulation
 * suberror). Nested KVM on some hosts stops on ordinary instructions such as {@code int3}; the VMM then
 * does what the CPU would have done. Anything it does not know is reported with RIP, CPU mode and the
 * instruction bytes, never skipped silently.
 */
final class EmulationAssist {
    /** The kinds of assist, counted per VM and logged when it ends. */
    enum Kind { INT3, INT_N }

    private final GuestMemory memory;
    private final AtomicLongArray counts = new AtomicLongArray(Kind.values().length);

    EmulationAssist(GuestMemory memory) {
        this.memory = memory;
    }

    /** The outcome: handled, or a one-line description of why the VM must stop. */
    record Result(boolean handled, String failure) {
        static final Result HANDLED = new Result(true, null);
    }

    Result handle(VcpuFd vcpu, KvmRun run) throws KvmException {
        Regs regs = vcpu.getRegs();
        Sregs sregs = vcpu.getSregs();
        byte[] insn = run.emulationInstructionBytes();
        if (insn.length == 0) {
            insn = fetch(vcpu, sregs, regs.rip);
        }
        if (run.internalSuberror() == vessel.kvm.ExitReason.INTERNAL_ERROR_EMULATION && insn.length > 0) {
            int op = insn[0] & 0xff;
            if (op == 0xcc) {
                // int3: a trap, so the return address the guest sees is the byte after it.
                regs.rip += 1;
                vcpu.setRegs(regs);
                VcpuEvents events = vcpu.getVcpuEvents();
                events.injectException(3, null);
                vcpu.setVcpuEvents(events);
                counts.incrementAndGet(Kind.INT3.ordinal());
                return Result.HANDLED;
            }
            if (op == 0xcd && insn.length >= 2) {
                // int n: delivered like an external interrupt after the instruction (no error code is
                // pushed, as for a software interrupt).
                regs.rip += 2;
                vcpu.setRegs(regs);
                VcpuEvents events = vcpu.getVcpuEvents();
                events.injectInterrupt(insn[1] & 0xff);
                vcpu.setVcpuEvents(events);
                counts.incrementAndGet(Kind.INT_N.ordinal());
                return Result.HANDLED;
            }
        }
        return new Result(false, describe(run, regs, sregs, insn));
    }

    static String describe(KvmRun run, Regs regs, Sregs sregs, byte[] insn) {
        String kind = switch (run.internalSuberror()) {
            case vessel.kvm.ExitReason.INTERNAL_ERROR_EMULATION -> "instruction the host KVM cannot emulate";
            case vessel.kvm.ExitReason.INTERNAL_ERROR_SIMUL_EX -> "simultaneous exceptions";
            case vessel.kvm.ExitReason.INTERNAL_ERROR_DELIVERY_EV -> "exit during event delivery";
            default -> "KVM internal error " + run.internalSuberror();
        };
        return kind + " at RIP 0x" + Long.toHexString(regs.rip) + " (" + sregs.mode() + ", CS base 0x"
                + Long.toHexString(sregs.cs.base()) + "), instruction bytes: "
                + (insn.length == 0 ? "unavailable" : HexFormat.ofDelimiter(" ").formatHex(insn));
    }

    /** Reads up to 15 instruction bytes at CS:RIP, through the guest's page tables when paging is on. */
    private byte[] fetch(VcpuFd vcpu, Sregs sregs, long rip) {
        long linear = ((sregs.efer & Sregs.EFER_LMA) != 0 && sregs.cs.l()) ? rip : sregs.cs.base() + rip;
        byte[] out = new byte[15];
        int n = 0;
        try {
            while (n < out.length) {
                long la = linear + n;
                long gpa = la;
                if ((sregs.cr0 & Sregs.CR0_PG) != 0) {
                    Translation t = vcpu.translate(la);
                    if (!t.valid()) {
                        break;
                    }
                    gpa = t.physicalAddress();
                }
                int chunk = (int) Math.min(out.length - n, 4096 - (la & 4095));
                if (!memory.contains(gpa, chunk)) {
                    break;
                }
                memory.read(gpa, out, n, chunk);
                n += chunk;
            }
        } catch (KvmException | GuestMemoryException e) {
            // report what we have
        }
        return java.util.Arrays.copyOf(out, n);
    }

    /** "int3=2 int_n=0"; empty when no assist ran. */
    String summary() {
        StringBuilder sb = new StringBuilder();
        for (Kind k : Kind.values()) {
            long c = counts.get(k.ordinal());
            if (c > 0) {
                sb.append(sb.isEmpty() ? "" : " ").append(k.name().toLowerCase(java.util.Locale.ROOT)).append('=').append(c);
            }
        }
        return sb.toString();
    }

    long count(Kind kind) {
        return counts.get(kind.ordinal());
    }
}
