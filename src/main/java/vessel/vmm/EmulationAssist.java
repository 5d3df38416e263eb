package vessel.vmm;

import java.util.HexFormat;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLongArray;

import vessel.kvm.ExitReason;
import vessel.kvm.KvmRun;
import vessel.kvm.Regs;
import vessel.kvm.Sregs;
import vessel.kvm.VcpuFd;
import vessel.memory.GuestMemory;
import vessel.vmm.x86.Assists;
import vessel.vmm.x86.DecodeException;
import vessel.vmm.x86.Decoder;
import vessel.vmm.x86.Instruction;
import vessel.vmm.x86.VcpuCpuAccess;

/**
 * Handles KVM_EXIT_INTERNAL_ERROR. Nested KVM on some hosts stops on ordinary instructions (int3,
 * clac, popcnt, ldmxcsr...); Vessel decodes the instruction and completes it as the CPU would have.
 * Anything it does not know is reported with RIP, CPU mode and the instruction bytes, never skipped.
 */
final class EmulationAssist {
    private final GuestMemory memory;
    private final AtomicLongArray counts = new AtomicLongArray(Assists.Kind.values().length);

    EmulationAssist(GuestMemory memory) {
        this.memory = memory;
    }

    /** The outcome: handled, or a one-line description of why the VM must stop. */
    record Result(boolean handled, String failure) {
        static final Result HANDLED = new Result(true, null);
    }

    Result handle(VcpuFd vcpu, KvmRun run) throws Exception {
        VcpuCpuAccess cpu = new VcpuCpuAccess(vcpu, memory);
        Regs regs = cpu.regs();
        Sregs sregs = cpu.sregs();
        byte[] insn = run.emulationInstructionBytes();
        if (insn.length == 0) {
            insn = fetch(cpu, sregs, regs.rip);
        }
        if (run.internalSuberror() != ExitReason.INTERNAL_ERROR_EMULATION) {
            return new Result(false, describe(run.internalSuberror(), regs, sregs, insn) + " (not an emulation failure)");
        }
        return complete(cpu, regs, sregs, insn);
    }

    /**
     * Test hook, never called in production: completes the instruction at the stopped vCPU's RIP exactly
     * as {@link #handle} would after an emulation failure there (same decode, same assist, same count),
     * so a guest can have an instruction its host CPU runs natively completed by the assist instead.
     */
    Result completeAtRip(VcpuFd vcpu) throws Exception {
        VcpuCpuAccess cpu = new VcpuCpuAccess(vcpu, memory);
        Regs regs = cpu.regs();
        Sregs sregs = cpu.sregs();
        return complete(cpu, regs, sregs, fetch(cpu, sregs, regs.rip));
    }

    /** Decodes {@code insn} (the bytes at RIP), completes it and counts it, or says why it cannot. */
    private Result complete(VcpuCpuAccess cpu, Regs regs, Sregs sregs, byte[] insn) throws Exception {
        String why;
        try {
            Instruction decoded = Decoder.decode(insn, Assists.codeSize(sregs));
            Assists.Outcome outcome = Assists.complete(decoded, cpu);
            if (outcome.completed()) {
                counts.incrementAndGet(outcome.kind().ordinal());
                return Result.HANDLED;
            }
            why = outcome.unsupported();
        } catch (DecodeException e) {
            why = e.getMessage();
        }
        return new Result(false, describe(ExitReason.INTERNAL_ERROR_EMULATION, regs, sregs, insn) + " (" + why + ")");
    }

    static String describe(int suberror, Regs regs, Sregs sregs, byte[] insn) {
        String kind = switch (suberror) {
            case ExitReason.INTERNAL_ERROR_EMULATION -> "instruction the host KVM cannot emulate";
            case ExitReason.INTERNAL_ERROR_SIMUL_EX -> "simultaneous exceptions";
            case ExitReason.INTERNAL_ERROR_DELIVERY_EV -> "exit during event delivery";
            default -> "KVM internal error " + suberror;
        };
        return kind + " at RIP 0x" + Long.toHexString(regs.rip) + " (" + sregs.mode() + ", CS base 0x"
                + Long.toHexString(sregs.cs.base()) + "), instruction bytes: "
                + (insn.length == 0 ? "unavailable" : HexFormat.ofDelimiter(" ").formatHex(insn));
    }

    /** Up to 15 bytes at CS:RIP, stopping at the first byte that is not mapped. */
    private static byte[] fetch(VcpuCpuAccess cpu, Sregs sregs, long rip) {
        long linear = Assists.codeSize(sregs) == 64 ? rip : (sregs.cs.base() + rip) & 0xffff_ffffL;
        byte[] out = new byte[Decoder.MAX_LENGTH];
        int n = 0;
        while (n < out.length) {
            int chunk = (int) Math.min(out.length - n, 4096 - ((linear + n) & 4095));
            try {
                System.arraycopy(cpu.readLinear(linear + n, chunk), 0, out, n, chunk);
            } catch (Exception e) {
                break;
            }
            n += chunk;
        }
        return java.util.Arrays.copyOf(out, n);
    }

    /** "int3=2 clac=40"; empty when no assist ran. */
    String summary() {
        StringBuilder sb = new StringBuilder();
        for (Assists.Kind k : Assists.Kind.values()) {
            long c = counts.get(k.ordinal());
            if (c > 0) {
                sb.append(sb.isEmpty() ? "" : " ").append(k.name().toLowerCase(Locale.ROOT)).append('=').append(c);
            }
        }
        return sb.toString();
    }

}
