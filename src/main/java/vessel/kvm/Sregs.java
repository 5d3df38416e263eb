package vessel.kvm;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** {@code struct kvm_sregs}: segment registers, descriptor tables, control registers, EFER, APIC base. */
public final class Sregs {
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            Segment.LAYOUT.withName("cs"), Segment.LAYOUT.withName("ds"), Segment.LAYOUT.withName("es"),
            Segment.LAYOUT.withName("fs"), Segment.LAYOUT.withName("gs"), Segment.LAYOUT.withName("ss"),
            Segment.LAYOUT.withName("tr"), Segment.LAYOUT.withName("ldt"),
            DescriptorTable.LAYOUT.withName("gdt"), DescriptorTable.LAYOUT.withName("idt"),
            JAVA_LONG.withName("cr0"), JAVA_LONG.withName("cr2"), JAVA_LONG.withName("cr3"),
            JAVA_LONG.withName("cr4"), JAVA_LONG.withName("cr8"), JAVA_LONG.withName("efer"),
            JAVA_LONG.withName("apic_base"),
            MemoryLayout.sequenceLayout(4, JAVA_LONG).withName("interrupt_bitmap")).withName("kvm_sregs");

    public static final long CR0_PE = 1L;
    public static final long CR0_MP = 1L << 1;
    public static final long CR0_EM = 1L << 2;
    public static final long CR0_TS = 1L << 3;
    public static final long CR0_ET = 1L << 4;
    public static final long CR0_NE = 1L << 5;
    public static final long CR0_WP = 1L << 16;
    public static final long CR0_AM = 1L << 18;
    public static final long CR0_PG = 1L << 31;
    public static final long CR4_PAE = 1L << 5;
    public static final long CR4_OSFXSR = 1L << 9;
    public static final long CR4_OSXMMEXCPT = 1L << 10;
    public static final long EFER_SCE = 1L;
    public static final long EFER_LME = 1L << 8;
    public static final long EFER_LMA = 1L << 10;
    public static final long EFER_NXE = 1L << 11;

    public Segment cs, ds, es, fs, gs, ss, tr, ldt;
    public DescriptorTable gdt, idt;
    public long cr0, cr2, cr3, cr4, cr8, efer, apicBase;
    public long[] interruptBitmap = new long[4];

    private static long offset(String field) {
        return LAYOUT.byteOffset(MemoryLayout.PathElement.groupElement(field));
    }

    private static final long SEGMENTS = offset("cs");
    private static final long GDT = offset("gdt");
    private static final long IDT = offset("idt");
    private static final long CR0 = offset("cr0");
    private static final long BITMAP = offset("interrupt_bitmap");

    static Sregs read(MemorySegment m) {
        Sregs r = new Sregs();
        long seg = Segment.LAYOUT.byteSize();
        r.cs = Segment.read(m.asSlice(SEGMENTS));
        r.ds = Segment.read(m.asSlice(SEGMENTS + seg));
        r.es = Segment.read(m.asSlice(SEGMENTS + 2 * seg));
        r.fs = Segment.read(m.asSlice(SEGMENTS + 3 * seg));
        r.gs = Segment.read(m.asSlice(SEGMENTS + 4 * seg));
        r.ss = Segment.read(m.asSlice(SEGMENTS + 5 * seg));
        r.tr = Segment.read(m.asSlice(SEGMENTS + 6 * seg));
        r.ldt = Segment.read(m.asSlice(SEGMENTS + 7 * seg));
        r.gdt = DescriptorTable.read(m.asSlice(GDT));
        r.idt = DescriptorTable.read(m.asSlice(IDT));
        r.cr0 = m.get(JAVA_LONG, CR0);
        r.cr2 = m.get(JAVA_LONG, CR0 + 8);
        r.cr3 = m.get(JAVA_LONG, CR0 + 16);
        r.cr4 = m.get(JAVA_LONG, CR0 + 24);
        r.cr8 = m.get(JAVA_LONG, CR0 + 32);
        r.efer = m.get(JAVA_LONG, CR0 + 40);
        r.apicBase = m.get(JAVA_LONG, CR0 + 48);
        r.interruptBitmap = m.asSlice(BITMAP, 32).toArray(JAVA_LONG);
        return r;
    }

    void write(MemorySegment m) {
        long seg = Segment.LAYOUT.byteSize();
        Segment[] all = {cs, ds, es, fs, gs, ss, tr, ldt};
        for (int i = 0; i < all.length; i++) {
            all[i].write(m.asSlice(SEGMENTS + i * seg, seg));
        }
        gdt.write(m.asSlice(GDT));
        idt.write(m.asSlice(IDT));
        long[] cr = {cr0, cr2, cr3, cr4, cr8, efer, apicBase};
        MemorySegment.copy(cr, 0, m, JAVA_LONG, CR0, cr.length);
        MemorySegment.copy(interruptBitmap, 0, m, JAVA_LONG, BITMAP, 4);
    }

    /** CPU mode as the guest sees it, for error reports. */
    public String mode() {
        if ((cr0 & CR0_PE) == 0) {
            return "real mode";
        }
        if ((efer & EFER_LMA) != 0) {
            return cs.l() ? "64-bit long mode" : "compatibility mode";
        }
        return cs.db() ? "32-bit protected mode" : "16-bit protected mode";
    }
}
