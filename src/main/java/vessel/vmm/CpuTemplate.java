package vessel.vmm;

import java.util.List;

/**
 * A custom CPU template (Firecracker's PUT /cpu-config, x86-64 part), already parsed: bit changes to
 * CPUID leaves and MSRs, applied to every vCPU at boot, and KVM capabilities the VM must have.
 *
 * @param requiredCaps KVM capability numbers that must be present (boot fails otherwise)
 * @param cpuid        changes to CPUID entries
 * @param msrs         changes to MSR values
 */
public record CpuTemplate(List<Integer> requiredCaps, List<CpuidChange> cpuid, List<MsrChange> msrs) {
    public CpuTemplate {
        requiredCaps = List.copyOf(requiredCaps);
        cpuid = List.copyOf(cpuid);
        msrs = List.copyOf(msrs);
    }

    /** A CPUID register. */
    public enum Register { EAX, EBX, ECX, EDX }

    /** Bits of a value: where {@code mask} has a 1, the value takes {@code bits}' bit; elsewhere it stays. */
    public record BitChange(long mask, long bits) {
        public long apply(long value) {
            return (value & ~mask) | (bits & mask);
        }
    }

    /** Changes to leaf {@code leaf}, subleaf {@code subleaf}; {@code flags} are KVM's for an entry it adds. */
    public record CpuidChange(int leaf, int subleaf, int flags, List<RegisterChange> registers) {
        public CpuidChange {
            registers = List.copyOf(registers);
        }
    }

    public record RegisterChange(Register register, BitChange change) {
    }

    public record MsrChange(int address, BitChange change) {
    }

    /** {@code table} with the CPUID changes made; a leaf the table lacks is added, zero but for the changes. */
    public List<vessel.kvm.CpuidEntry> applyCpuid(List<vessel.kvm.CpuidEntry> table) {
        List<vessel.kvm.CpuidEntry> out = new java.util.ArrayList<>(table);
        for (CpuidChange c : cpuid) {
            int at = -1;
            for (int i = 0; i < out.size(); i++) {
                vessel.kvm.CpuidEntry e = out.get(i);
                if (e.function() == c.leaf() && e.index() == c.subleaf()) {
                    at = i;
                }
            }
            vessel.kvm.CpuidEntry e = at >= 0 ? out.get(at)
                    : new vessel.kvm.CpuidEntry(c.leaf(), c.subleaf(), c.flags(), 0, 0, 0, 0);
            int[] regs = {e.eax(), e.ebx(), e.ecx(), e.edx()};
            for (RegisterChange r : c.registers()) {
                regs[r.register().ordinal()] = (int) r.change().apply(Integer.toUnsignedLong(regs[r.register().ordinal()]));
            }
            vessel.kvm.CpuidEntry changed = e.withRegs(regs[0], regs[1], regs[2], regs[3]);
            if (at >= 0) {
                out.set(at, changed);
            } else {
                out.add(changed);
            }
        }
        return out;
    }

    /**
     * {@code boot} (the MSRs Vessel sets anyway) with the MSR changes made; an MSR not among them starts
     * from the value {@code vcpu} has now. One KVM refuses to read is a configuration error.
     */
    public List<vessel.kvm.MsrEntry> applyMsrs(List<vessel.kvm.MsrEntry> boot, vessel.kvm.VcpuFd vcpu)
            throws ConfigException {
        java.util.Map<Integer, Long> values = new java.util.LinkedHashMap<>();
        boot.forEach(m -> values.put(m.index(), m.data()));
        for (MsrChange c : msrs) {
            Long base = values.get(c.address());
            if (base == null) {
                try {
                    List<vessel.kvm.MsrEntry> now = vcpu.getMsrs(List.of(c.address()));
                    if (now.isEmpty()) {
                        throw new ConfigException("CPU template: MSR 0x" + Integer.toHexString(c.address())
                                + " is not one this host's KVM has");
                    }
                    base = now.getFirst().data();
                } catch (vessel.kvm.KvmException e) {
                    throw new ConfigException("CPU template: MSR 0x" + Integer.toHexString(c.address())
                            + " cannot be read: " + e.getMessage());
                }
            }
            values.put(c.address(), c.change().apply(base));
        }
        return values.entrySet().stream().map(e -> new vessel.kvm.MsrEntry(e.getKey(), e.getValue())).toList();
    }
}
