package vessel.vmm.snapshot;

import java.util.ArrayList;
import java.util.List;

import vessel.kvm.CpuidEntry;
import vessel.kvm.KvmException;
import vessel.kvm.MsrEntry;
import vessel.kvm.StateStructs;
import vessel.kvm.VcpuFd;
import vessel.kvm.VcpuStateBlob;
import vessel.kvm.VmFd;

/** Takes the VM's and each vCPU's state out of KVM and puts it back, in the order KVM needs. */
public final class KvmState {
    private static final System.Logger LOG = System.getLogger("vessel.vmm");

    private KvmState() {}

    public static VmSnapshot.VmState saveVm(VmFd vm) throws KvmException {
        return new VmSnapshot.VmState(vm.getIrqchip(StateStructs.IRQCHIP_PIC_MASTER),
                vm.getIrqchip(StateStructs.IRQCHIP_PIC_SLAVE), vm.getIrqchip(StateStructs.IRQCHIP_IOAPIC),
                vm.getPit2(), vm.getClock());
    }

    /** On a VM just made with its irqchip and PIT, before its vCPUs' state goes back. */
    public static void restoreVm(VmFd vm, VmSnapshot.VmState s) throws KvmException {
        vm.setPit2(s.pit());
        vm.setClock(s.clockNanos());
        vm.setIrqchip(s.picMaster());
        vm.setIrqchip(s.picSlave());
        vm.setIrqchip(s.ioapic());
    }

    /**
     * One vCPU's state; it must be outside KVM_RUN with its last exit completed. Of {@code msrIndices}
     * (KVM_GET_MSR_INDEX_LIST), those this vCPU cannot read are left out, as KVM reports them.
     */
    public static VmSnapshot.VcpuState saveVcpu(VcpuFd fd, List<Integer> msrIndices) throws KvmException {
        List<byte[]> blobs = new ArrayList<>();
        for (VcpuStateBlob b : VcpuStateBlob.values()) {
            blobs.add(fd.getBlob(b));
        }
        List<MsrEntry> msrs = new ArrayList<>();
        List<Integer> left = msrIndices;
        while (!left.isEmpty()) { // each pass reads at least one MSR or drops one: bounded by the list
            List<MsrEntry> got = fd.getMsrs(left);
            msrs.addAll(got);
            if (got.size() < left.size()) {
                int refused = left.get(got.size());
                LOG.log(System.Logger.Level.DEBUG, () -> "snapshot: MSR 0x" + Integer.toHexString(refused)
                        + " cannot be read on this host; left out");
                left = left.subList(got.size() + 1, left.size());
            } else {
                left = List.of();
            }
        }
        List<CpuidEntry> cpuid = fd.getCpuid();
        int[] words = new int[cpuid.size() * 7];
        for (int i = 0; i < cpuid.size(); i++) {
            CpuidEntry e = cpuid.get(i);
            System.arraycopy(new int[] {e.function(), e.index(), e.flags(), e.eax(), e.ebx(), e.ecx(), e.edx()}, 0,
                    words, i * 7, 7);
        }
        return new VmSnapshot.VcpuState(fd.id(), blobs, msrs.stream().mapToInt(MsrEntry::index).toArray(),
                msrs.stream().mapToLong(MsrEntry::data).toArray(), words);
    }

    /** Puts a vCPU, just created, in the saved state: CPUID first, MSRs after the LAPIC, events last. */
    public static void restoreVcpu(VcpuFd fd, VmSnapshot.VcpuState s) throws KvmException {
        int[] w = s.cpuid();
        List<CpuidEntry> cpuid = new ArrayList<>();
        for (int i = 0; i < w.length; i += 7) {
            cpuid.add(new CpuidEntry(w[i], w[i + 1], w[i + 2], w[i + 3], w[i + 4], w[i + 5], w[i + 6]));
        }
        fd.setCpuid(cpuid);
        for (VcpuStateBlob b : VcpuStateBlob.values()) {
            if (b == VcpuStateBlob.VCPU_EVENTS) {
                restoreMsrs(fd, s);
            }
            fd.setBlob(b, s.blob(b));
        }
    }

    private static void restoreMsrs(VcpuFd fd, VmSnapshot.VcpuState s) throws KvmException {
        List<MsrEntry> left = restoreOrder(s.msrIndices(), s.msrValues());
        while (!left.isEmpty()) { // each pass sets at least one MSR or drops one
            int n = fd.setMsrsPrefix(left);
            if (n < left.size()) {
                MsrEntry refused = left.get(n);
                LOG.log(System.Logger.Level.DEBUG, () -> "restore: KVM refused MSR 0x"
                        + Integer.toHexString(refused.index()) + " = 0x" + Long.toHexString(refused.data()));
                left = left.subList(n + 1, left.size());
            } else {
                left = List.of();
            }
        }
    }

    /**
     * The saved MSRs in the order KVM needs them: the TSC and then the TSC deadline last, next to each
     * other, so that one KVM_SET_MSRS sets both (a refused MSR earlier in the list would split the
     * writes). KVM arms a restored TSC-deadline timer by comparing the deadline with the guest's TSC as
     * it is at that moment, and on a host whose TSC is marked unstable every vCPU ioctl first puts a
     * vCPU that has never run back at its last guest TSC, 0 (kvm_arch_vcpu_load); a deadline measured
     * against that would fire as many seconds late as the guest had been up (Firecracker's PR 4666 is
     * the ordering half of this). A deadline saved as 0 may be one KVM had just fired and cleared while
     * the interrupt had not yet reached the guest: restored as 0 it would never come (Firecracker's
     * PR 4618). It is restored as the saved TSC instead, so the timer fires at once: a spurious timer
     * interrupt costs Linux nothing, and KVM ignores the write when the LAPIC timer is in another mode.
     */
    static List<MsrEntry> restoreOrder(int[] indices, long[] values) {
        List<MsrEntry> order = new ArrayList<>();
        MsrEntry tsc = null;
        MsrEntry deadline = null;
        for (int i = 0; i < indices.length; i++) {
            MsrEntry e = new MsrEntry(indices[i], values[i]);
            if (e.index() == MsrEntry.IA32_TSC) {
                tsc = e;
            } else if (e.index() == MsrEntry.IA32_TSC_DEADLINE) {
                deadline = e;
            } else {
                order.add(e);
            }
        }
        if (tsc != null) {
            order.add(tsc);
        }
        if (deadline != null) {
            order.add(deadline.data() == 0 && tsc != null && tsc.data() > 0 ? new MsrEntry(deadline.index(), tsc.data()) : deadline);
        }
        return order;
    }
}
