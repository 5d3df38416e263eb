package vessel.boot;

import java.util.ArrayList;
import java.util.List;

import vessel.kvm.CpuidEntry;
import vessel.kvm.DescriptorTable;
import vessel.kvm.Fpu;
import vessel.kvm.KvmException;
import vessel.kvm.LapicState;
import vessel.kvm.MsrEntry;
import vessel.kvm.Regs;
import vessel.kvm.Segment;
import vessel.kvm.Sregs;
import vessel.kvm.VcpuFd;
import vessel.memory.GuestMemory;

/** x86 vCPU state: CPUID per vCPU, the local APIC's wiring, and the boot CPU's entry state for each mode. */
public final class X86Cpu {
    static final long PTE_PRESENT = 1;
    static final long PTE_WRITABLE = 1 << 1;
    static final long PDE_LARGE = 1 << 7;

    private X86Cpu() {}

    /**
     * The CPUID table for vCPU {@code index}: what KVM supports, with this vCPU's APIC ID in leaf 1
     * (EBX bits 31-24) and leaf 0xB (EDX), the logical-processor count set to {@code cpus}, and the
     * hypervisor bit set.
     */
    public static List<CpuidEntry> cpuidFor(List<CpuidEntry> supported, int index, int cpus) {
        List<CpuidEntry> out = new ArrayList<>(supported.size());
        for (CpuidEntry e : supported) {
            CpuidEntry adjusted = switch (e.function()) {
                case 1 -> e.withRegs(e.eax(),
                        (e.ebx() & 0x0000ffff) | (index << 24) | (Math.min(cpus, 255) << 16),
                        e.ecx() | CPUID_1_ECX_HYPERVISOR, e.edx() | (1 << 28) /* HTT: the count field is valid */);
                case 0xb -> e.withRegs(e.eax(), e.ebx(), e.ecx(), index);
                default -> e;
            };
            out.add(adjusted);
        }
        return out;
    }

    /**
     * {@code table} for vCPU {@code index} of {@code cpus} presented as hyperthread pairs (Firecracker's
     * smt): leaf 0xB says 2 threads per core and {@code cpus} per package, leaf 4 the cores per package.
     * The APIC ID stays the vCPU index, so threads 2n and 2n+1 share core n.
     */
    public static List<CpuidEntry> withSmtTopology(List<CpuidEntry> table, int index, int cpus) {
        int threads = cpus > 1 ? 2 : 1;
        int threadShift = threads == 2 ? 1 : 0;
        int packageShift = 32 - Integer.numberOfLeadingZeros(Math.max(cpus - 1, 0));
        int cores = Math.max(1, cpus / threads);
        List<CpuidEntry> out = new ArrayList<>();
        boolean smtLevel = false;
        boolean coreLevel = false;
        for (CpuidEntry e : table) {
            if (e.function() == 0xb && e.index() == 0) {
                e = e.withRegs(threadShift, threads, (1 << 8), index);
                smtLevel = true;
            } else if (e.function() == 0xb && e.index() == 1) {
                e = e.withRegs(packageShift, cpus, (2 << 8) | 1, index);
                coreLevel = true;
            } else if (e.function() == 4) {
                e = e.withRegs((e.eax() & 0x03ff_ffff) | ((cores - 1) << 26), e.ebx(), e.ecx(), e.edx());
            }
            out.add(e);
        }
        if (!smtLevel) {
            out.add(new CpuidEntry(0xb, 0, CpuidEntry.FLAG_SIGNIFICANT_INDEX, threadShift, threads, 1 << 8, index));
        }
        if (!coreLevel) {
            out.add(new CpuidEntry(0xb, 1, CpuidEntry.FLAG_SIGNIFICANT_INDEX, packageShift, cpus, (2 << 8) | 1, index));
        }
        return out;
    }

    /** Leaf 1 ECX bit 24: the local APIC timer's TSC-deadline mode. */
    static final int CPUID_1_ECX_TSC_DEADLINE = 1 << 24;

    /**
     * {@code supported} with leaf 1's TSC-deadline bit set: KVM emulates the TSC-deadline timer but leaves
     * it out of KVM_GET_SUPPORTED_CPUID (a VMM offers it when KVM_CAP_TSC_DEADLINE_TIMER is there). Without
     * it Linux must calibrate the local APIC timer against a global clock event; where the FADT is not
     * hardware-reduced that is the PIT, and a guest whose emulated timers drift apart (as under nested
     * emulation) then fails the check ("APIC timer disabled due to verification failure") and keeps its
     * ticks on the PIT. With it Linux needs no PIT at all. The VMM offers it with such a FADT only, so
     * that the default (hardware-reduced) guest keeps the CPUID its stock boot was measured with.
     */
    public static List<CpuidEntry> withTscDeadlineTimer(List<CpuidEntry> supported) {
        return supported.stream().map(e -> e.function() == 1
                ? e.withRegs(e.eax(), e.ebx(), e.ecx() | CPUID_1_ECX_TSC_DEADLINE, e.edx()) : e).toList();
    }

    /** KVM's paravirtual feature bits (leaf 0x40000001 EAX) that work by hypercall. */
    static final int KVM_FEATURE_PV_UNHALT = 7;
    static final int KVM_FEATURE_PV_TLB_FLUSH = 9;
    static final int KVM_FEATURE_PV_SEND_IPI = 11;
    static final int KVM_FEATURE_PV_SCHED_YIELD = 13;
    static final int HYPERCALL_FEATURES = (1 << KVM_FEATURE_PV_UNHALT) | (1 << KVM_FEATURE_PV_TLB_FLUSH)
            | (1 << KVM_FEATURE_PV_SEND_IPI) | (1 << KVM_FEATURE_PV_SCHED_YIELD);
    /**
     * Leaf 1 ECX bit 31: running under a hypervisor. KVM's supported table leaves it clear; without it
     * Linux never looks at the KVM leaves, so it has no kvmclock and calibrates the TSC against the PIT.
     */
    static final int CPUID_1_ECX_HYPERVISOR = 1 << 31;
    /** Leaf 1 ECX bit 13: CMPXCHG16B. */
    static final int CPUID_1_ECX_CX16 = 1 << 13;

    /** What the guest's CPUID must not offer because this host cannot run it (found by probing, not by name). */
    public record CpuidLimits(boolean hideCmpxchg16b, boolean hideHypercallFeatures) {
        public static final CpuidLimits NONE = new CpuidLimits(false, false);
    }

    /** {@link #cpuidFor(List, int, int)} with features the host cannot run taken out. */
    public static List<CpuidEntry> cpuidFor(List<CpuidEntry> supported, int index, int cpus, CpuidLimits limits) {
        List<CpuidEntry> out = new ArrayList<>();
        for (CpuidEntry e : cpuidFor(supported, index, cpus)) {
            if (e.function() == 1 && limits.hideCmpxchg16b()) {
                e = e.withRegs(e.eax(), e.ebx(), e.ecx() & ~CPUID_1_ECX_CX16, e.edx());
            } else if (e.function() == 0x4000_0001 && limits.hideHypercallFeatures()) {
                e = e.withRegs(e.eax() & ~HYPERCALL_FEATURES, e.ebx(), e.ecx(), e.edx());
            }
            out.add(e);
        }
        return out;
    }

    /**
     * MSRs as firmware leaves them for a 64-bit kernel: syscall MSRs cleared, fast strings on, and MTRRs
     * enabled with write-back as the default type (left at reset, all memory would be uncached).
     */
    public static List<MsrEntry> bootMsrs() {
        return List.of(
                new MsrEntry(MsrEntry.IA32_SYSENTER_CS, 0), new MsrEntry(MsrEntry.IA32_SYSENTER_ESP, 0),
                new MsrEntry(MsrEntry.IA32_SYSENTER_EIP, 0), new MsrEntry(MsrEntry.STAR, 0),
                new MsrEntry(MsrEntry.CSTAR, 0), new MsrEntry(MsrEntry.KERNEL_GS_BASE, 0),
                new MsrEntry(MsrEntry.SYSCALL_MASK, 0), new MsrEntry(MsrEntry.LSTAR, 0),
                new MsrEntry(MsrEntry.IA32_TSC, 0),
                new MsrEntry(MsrEntry.IA32_MISC_ENABLE, 1 /* fast string operations */),
                new MsrEntry(MsrEntry.IA32_MTRR_DEF_TYPE, (1 << 11) /* MTRRs on */ | 6 /* write-back */));
    }

    /**
     * Wires the local APIC as a PC's is after firmware: LINT0 takes the 8259's ExtINT, LINT1 takes NMI.
     * Without this, interrupts from the in-kernel PIC never reach the boot CPU in virtual-wire mode.
     */
    public static void wireLapic(VcpuFd vcpu) throws KvmException {
        LapicState lapic = vcpu.getLapic();
        lapic.setLvtDelivery(LapicState.APIC_LVT0, LapicState.DELIVERY_EXTINT);
        lapic.setLvtDelivery(LapicState.APIC_LVT1, LapicState.DELIVERY_NMI);
        vcpu.setLapic(lapic);
    }

    /**
     * The state a PC's boot CPU comes out of reset in, where firmware starts: real mode at F000:FFF0 with
     * CS's base 0xFFFF0000, so the first fetch is the reset vector 16 bytes below 4 GiB (Intel SDM vol. 3,
     * 9.1.4). KVM makes a vCPU in this state already; setting it says so and survives a reused vCPU.
     */
    public static void reset(VcpuFd vcpu) throws KvmException {
        Sregs s = vcpu.getSregs();
        s.cs = new Segment(RESET_CS_BASE, 0xffff, RESET_CS, 0xb, true, 0, false, true, false, false, false, false);
        s.ds = s.es = s.fs = s.gs = s.ss = Segment.realMode(0, false);
        s.cr0 = Sregs.CR0_ET | RESET_CR0_CD_NW;
        s.cr3 = 0;
        s.cr4 = 0;
        s.efer = 0;
        s.gdt = new DescriptorTable(0, 0xffff);
        s.idt = new DescriptorTable(0, 0xffff);
        vcpu.setSregs(s);
        Regs r = new Regs();
        r.rip = RESET_IP;
        r.rflags = Regs.RFLAGS_RESERVED;
        r.rdx = RESET_EDX;
        vcpu.setRegs(r);
        vcpu.setFpu(new Fpu());
    }

    static final int RESET_CS = 0xf000;
    static final long RESET_CS_BASE = 0xffff_0000L;
    static final long RESET_IP = 0xfff0;
    /** CR0 after reset: cache disable and not-write-through set (0x60000000), ET set. */
    static final long RESET_CR0_CD_NW = 0x6000_0000L;
    /** EDX after reset holds the processor signature (family 6); firmware may read it, none here needs it. */
    static final long RESET_EDX = 0x600;

    /** Builds whatever tables {@code entry}'s mode needs in guest memory and loads the boot CPU's registers. */
    public static void enter(VcpuFd vcpu, GuestMemory memory, BootEntry entry) throws KvmException {
        Sregs s = vcpu.getSregs();
        switch (entry.mode()) {
            case REAL -> {
                int selector = (int) (entry.rip() >>> 4);
                s.cs = Segment.realMode(selector, true);
                s.ds = s.es = s.fs = s.gs = Segment.realMode(selector, false);
                s.ss = Segment.realMode(0, false);
                s.cr0 &= ~(Sregs.CR0_PE | Sregs.CR0_PG);
            }
            case PROTECTED -> {
                Segment code = Segment.flat(entry.codeSelector(), true, false);
                Segment data = Segment.flat(entry.dataSelector(), false, false);
                s.gdt = writeGdt(memory, code, data);
                s.cs = code;
                s.ds = s.es = s.fs = s.gs = s.ss = data;
                s.cr0 = (s.cr0 | Sregs.CR0_PE | Sregs.CR0_ET) & ~Sregs.CR0_PG;
            }
            case LONG -> {
                Segment code = Segment.flat(entry.codeSelector(), true, true);
                Segment data = Segment.flat(entry.dataSelector(), false, true);
                s.gdt = writeGdt(memory, code, data);
                s.cs = code;
                s.ds = s.es = s.fs = s.gs = s.ss = data;
                writeIdentityMap(memory);
                s.cr3 = GuestLayout.PML4;
                s.cr4 |= Sregs.CR4_PAE;
                s.cr0 |= Sregs.CR0_PE | Sregs.CR0_PG | Sregs.CR0_ET;
                s.efer |= Sregs.EFER_LME | Sregs.EFER_LMA;
            }
        }
        s.idt = new DescriptorTable(0, 0);
        vcpu.setSregs(s);

        Regs r = new Regs();
        r.rip = entry.mode() == EntryMode.REAL ? entry.rip() & 0xf : entry.rip();
        r.rsp = entry.rsp();
        r.rax = entry.rax();
        r.rbx = entry.rbx();
        r.rsi = entry.rsi();
        r.rflags = Regs.RFLAGS_RESERVED;
        vcpu.setRegs(r);
        vcpu.setFpu(new Fpu());
    }

    /** IA32_APIC_BASE: the local APIC's MSR; bit 8 marks the boot CPU, bit 11 enables the APIC in xAPIC mode. */
    static final int IA32_APIC_BASE = 0x1b;
    static final long APIC_BASE_BSP = 1L << 8;
    static final long APIC_BASE_ENABLE = 1L << 11;
    /** CR0 as firmware hands it to a waking OS: reset's value (ET) with the caches left on (CD, NW clear). */
    static final long WAKE_CR0 = Sregs.CR0_ET;
    /** A real-mode interrupt vector table: 256 four-byte vectors at address 0. */
    static final int REAL_MODE_IDT_LIMIT = 0x3ff;

    /**
     * Where a CPU restarts when the machine wakes from S3 (ACPI 6.5, 5.2.10 and 16.3): the FACS's
     * 32-bit firmware waking vector in real mode, or its X_Firmware_Waking_Vector, when the OS set one,
     * in 32-bit protected mode with flat segments and paging off (the FACS does not offer the 64-bit
     * waking environment).
     */
    public record WakeEntry(long vector, boolean protectedMode) {
        /** Reads the vectors the OS left in the FACS at {@code facs}; empty when it left neither. */
        public static java.util.Optional<WakeEntry> fromFacs(GuestMemory memory, long facs) {
            long x = memory.readLong(facs + vessel.boot.acpi.Facs.X_FIRMWARE_WAKING_VECTOR_OFFSET);
            if (x != 0 && x <= 0xffff_ffffL) {
                return java.util.Optional.of(new WakeEntry(x, true));
            }
            long real = memory.readInt(facs + vessel.boot.acpi.Facs.FIRMWARE_WAKING_VECTOR_OFFSET) & 0xffff_ffffL;
            // A real-mode CPU reaches no further than 0xFFFF:0xF; a vector above 1 MiB cannot be entered.
            return real != 0 && real < GuestLayout.HIGH_MEMORY
                    ? java.util.Optional.of(new WakeEntry(real, false)) : java.util.Optional.empty();
        }
    }

    /**
     * Puts a vCPU in the state a PC's CPU is in after waking from S3, as far as KVM lets a VMM set it:
     * the boot CPU at {@code entry} with its other registers as after reset, the others waiting for
     * INIT and SIPI; every local APIC back in xAPIC mode with {@code resetLapic}'s registers (the state
     * firmware left at power-on). MSRs other than the APIC base keep their values: the OS restores the
     * ones it needs, as it must after firmware.
     */
    public static void wake(VcpuFd vcpu, boolean bootCpu, WakeEntry entry, LapicState resetLapic) throws KvmException {
        long bsp = bootCpu ? APIC_BASE_BSP : 0;
        long base = vessel.boot.acpi.Madt.DEFAULT_LOCAL_APIC_ADDRESS | bsp;
        // Through "disabled": KVM refuses a direct x2APIC to xAPIC switch, as the CPU does.
        vcpu.setMsrs(List.of(new MsrEntry(IA32_APIC_BASE, base)));
        vcpu.setMsrs(List.of(new MsrEntry(IA32_APIC_BASE, base | APIC_BASE_ENABLE)));
        vcpu.setLapic(resetLapic);
        if (!bootCpu) {
            vcpu.setMpState(VcpuFd.MP_STATE_INIT_RECEIVED);
            return;
        }
        Sregs s = vcpu.getSregs();
        if (entry.protectedMode()) {
            s.cs = Segment.flat(0x08, true, false);
            s.ds = s.es = s.fs = s.gs = s.ss = Segment.flat(0x10, false, false);
            s.cr0 = WAKE_CR0 | Sregs.CR0_PE;
        } else {
            int selector = (int) (entry.vector() >>> 4);
            s.cs = Segment.realMode(selector, true);
            s.ds = s.es = s.fs = s.gs = s.ss = Segment.realMode(0, false);
            s.cr0 = WAKE_CR0;
        }
        // TR and LDTR as after reset: a long-mode kernel's 64-bit TSS stays out of real mode.
        s.tr = new Segment(0, 0xffff, 0, 0xb, true, 0, false, false, false, false, false, false);
        s.ldt = new Segment(0, 0xffff, 0, 0x2, true, 0, false, false, false, false, false, false);
        s.cr2 = 0;
        s.cr3 = 0;
        s.cr4 = 0;
        s.efer = 0;
        s.gdt = new DescriptorTable(0, 0xffff);
        s.idt = new DescriptorTable(0, REAL_MODE_IDT_LIMIT);
        vcpu.setSregs(s);
        Regs r = new Regs();
        r.rip = entry.protectedMode() ? entry.vector() : entry.vector() & 0xf;
        r.rflags = Regs.RFLAGS_RESERVED;
        vcpu.setRegs(r);
        vcpu.setFpu(new Fpu());
        vcpu.setMpState(VcpuFd.MP_STATE_RUNNABLE);
    }

    /** A GDT at {@link GuestLayout#GDT} with the code and data descriptors at their selectors, null elsewhere. */
    static DescriptorTable writeGdt(GuestMemory memory, Segment code, Segment data) {
        int entries = Math.max(code.selector(), data.selector()) / 8 + 1;
        for (int i = 0; i < entries; i++) {
            long d = i == code.selector() / 8 ? code.descriptor() : i == data.selector() / 8 ? data.descriptor() : 0;
            memory.writeLong(GuestLayout.GDT + 8L * i, d);
        }
        return new DescriptorTable(GuestLayout.GDT, 8 * entries - 1);
    }

    /** Identity-maps the first 4 GiB with 2 MiB pages: one PML4 entry, four PDPT entries, four page directories. */
    static void writeIdentityMap(GuestMemory memory) {
        memory.fill(GuestLayout.PML4, 0x6000, (byte) 0);
        memory.writeLong(GuestLayout.PML4, GuestLayout.PDPT | PTE_PRESENT | PTE_WRITABLE);
        for (int dir = 0; dir < 4; dir++) {
            long pd = GuestLayout.PAGE_DIRECTORIES + 0x1000L * dir;
            memory.writeLong(GuestLayout.PDPT + 8L * dir, pd | PTE_PRESENT | PTE_WRITABLE);
            for (int i = 0; i < 512; i++) {
                long phys = ((long) dir << 30) | ((long) i << 21);
                memory.writeLong(pd + 8L * i, phys | PTE_PRESENT | PTE_WRITABLE | PDE_LARGE);
            }
        }
    }
}
