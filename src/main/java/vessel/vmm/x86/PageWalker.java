package vessel.vmm.x86;

import vessel.kvm.Sregs;

/**
 * Translates a linear address through the guest's page tables with the access rights of the
 * instruction, as the CPU does (SDM vol. 3, 4.6): KVM_TRANSLATE gives only the physical address (x86
 * KVM reports every page writable and none user-accessible), so the rights are checked here. Covers
 * 32-bit paging (with 4 MiB pages under CR4.PSE), PAE and 4- and 5-level (CR4.LA57) paging. R/W and U/S
 * combine over every level; execute-disable and protection keys do not apply to data accesses Vessel
 * makes (keys are left unchecked), and reserved bits are not checked.
 */
public final class PageWalker {
    /** Guest-physical memory, as the page walk reads it. */
    public interface PhysicalMemory {
        long readLong(long address) throws Exception;

        int readInt(long address) throws Exception;
    }

    /** How an instruction touches memory. */
    public enum Access {
        READ, WRITE,
        /** A read the CPU makes for itself (the IDT): supervisor, whatever the CPL, and SMAP always applies. */
        IMPLICIT_READ
    }

    static final long CR4_PSE = 1L << 4;
    static final long CR4_LA57 = 1L << 12;
    static final long CR4_SMAP = 1L << 21;
    static final long CR0_WP = 1L << 16;
    private static final long P = 1;
    private static final long RW = 1 << 1;
    private static final long US = 1 << 2;
    private static final long PS = 1 << 7;
    private static final long ADDRESS = 0x000f_ffff_ffff_f000L;

    private PageWalker() {}

    /**
     * The guest-physical address of {@code linear} for {@code access} by code at {@code cpl} with
     * {@code rflags}, or the page fault the CPU would raise.
     */
    public static long translate(long linear, Access access, Sregs s, long rflags, int cpl, PhysicalMemory memory)
            throws Exception {
        if ((s.cr0 & Sregs.CR0_PG) == 0) {
            return linear;
        }
        boolean user = access != Access.IMPLICIT_READ && cpl == 3;
        boolean write = access == Access.WRITE;
        int code = (write ? PageFault.WRITE : 0) | (user ? PageFault.USER : 0);
        boolean writable = true;
        boolean userPage = true;
        long physical;
        if ((s.efer & Sregs.EFER_LMA) != 0 || (s.cr4 & Sregs.CR4_PAE) != 0) {
            long table;
            int levels;
            if ((s.efer & Sregs.EFER_LMA) != 0) {
                levels = (s.cr4 & CR4_LA57) != 0 ? 5 : 4;
                table = s.cr3 & ADDRESS;
            } else {
                // PAE: four PDPTEs at CR3[31:5], with only a present bit of their own.
                long pdpte = memory.readLong((s.cr3 & 0xffff_ffe0L) + 8 * ((linear >>> 30) & 3));
                if ((pdpte & P) == 0) {
                    throw new PageFault(linear, code);
                }
                levels = 2;
                table = pdpte & ADDRESS;
            }
            physical = -1;
            for (int level = levels; level >= 1; level--) {
                int shift = 12 + 9 * (level - 1);
                long entry = memory.readLong(table + 8 * ((linear >>> shift) & 511));
                if ((entry & P) == 0) {
                    throw new PageFault(linear, code);
                }
                writable &= (entry & RW) != 0;
                userPage &= (entry & US) != 0;
                if (level == 1 || (level <= 3 && (entry & PS) != 0)) {
                    long pageMask = (1L << shift) - 1;
                    physical = (entry & ADDRESS & ~pageMask) | (linear & pageMask);
                    break;
                }
                table = entry & ADDRESS;
            }
        } else {
            long linear32 = linear & 0xffff_ffffL;
            long pde = memory.readInt((s.cr3 & 0xffff_f000L) + 4 * (linear32 >>> 22)) & 0xffff_ffffL;
            if ((pde & P) == 0) {
                throw new PageFault(linear, code);
            }
            writable = (pde & RW) != 0;
            userPage = (pde & US) != 0;
            if ((pde & PS) != 0 && (s.cr4 & CR4_PSE) != 0) {
                physical = (pde & 0xffc0_0000L) | (linear32 & 0x3f_ffffL);
            } else {
                long pte = memory.readInt((pde & 0xffff_f000L) + 4 * ((linear32 >>> 12) & 1023)) & 0xffff_ffffL;
                if ((pte & P) == 0) {
                    throw new PageFault(linear, code);
                }
                writable &= (pte & RW) != 0;
                userPage &= (pte & US) != 0;
                physical = (pte & 0xffff_f000L) | (linear32 & 0xfff);
            }
        }
        code |= PageFault.PRESENT; // from here on a refusal is a protection violation
        if (user) {
            if (!userPage || (write && !writable)) {
                throw new PageFault(linear, code);
            }
        } else {
            boolean smap = (s.cr4 & CR4_SMAP) != 0 && userPage
                    && (access == Access.IMPLICIT_READ || (rflags & Assists.RFLAGS_AC) == 0);
            if (smap || (write && !writable && (s.cr0 & CR0_WP) != 0)) {
                throw new PageFault(linear, code);
            }
        }
        return physical;
    }
}
