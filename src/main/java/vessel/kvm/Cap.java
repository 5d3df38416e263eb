package vessel.kvm;

/** KVM capabilities asked with KVM_CHECK_EXTENSION, numbered as in {@code linux/kvm.h}. */
public enum Cap {
    IRQCHIP(0),
    HLT(1),
    USER_MEMORY(3),
    SET_TSS_ADDR(4),
    EXT_CPUID(7),
    NR_VCPUS(9),
    NR_MEMSLOTS(10),
    MP_STATE(14),
    SYNC_MMU(16),
    IRQ_ROUTING(25),
    IRQFD(32),
    PIT2(33),
    IOEVENTFD(36),
    SET_IDENTITY_MAP_ADDR(37),
    ADJUST_CLOCK(39),
    VCPU_EVENTS(41),
    X86_ROBUST_SINGLESTEP(51),
    XSAVE(55),
    MAX_VCPUS(66),
    TSC_DEADLINE_TIMER(72),
    SIGNAL_MSI(77),
    READONLY_MEM(81),
    SPLIT_IRQCHIP(121),
    X2APIC_API(129),
    IMMEDIATE_EXIT(136),
    COALESCED_PIO(162);

    private final int number;

    Cap(int number) {
        this.number = number;
    }

    public int number() {
        return number;
    }
}
