package vessel.vmm.x86;

import java.util.HashMap;
import java.util.Map;

import org.junit.jupiter.api.Test;

import vessel.kvm.Sregs;
import vessel.vmm.x86.PageWalker.Access;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The page walk in each paging mode, on tables kept in a map of physical address to entry. */
class PageWalkerTest {
    private final Map<Long, Long> memory = new HashMap<>();
    private final PageWalker.PhysicalMemory tables = new PageWalker.PhysicalMemory() {
        @Override public long readLong(long a) { return memory.getOrDefault(a, 0L); }
        @Override public int readInt(long a) { return (int) (long) memory.getOrDefault(a, 0L); }
    };
    private static final long P = 1, RW = 2, US = 4, PS = 0x80;

    private static Sregs longMode(long cr3) {
        Sregs s = new Sregs();
        s.cr0 = Sregs.CR0_PE | Sregs.CR0_PG;
        s.cr4 = Sregs.CR4_PAE;
        s.efer = Sregs.EFER_LMA | Sregs.EFER_LME;
        s.cr3 = cr3;
        return s;
    }

    private long walk(long linear, Access access, Sregs s, int cpl) throws Exception {
        return PageWalker.translate(linear, access, s, 0x2, cpl, tables);
    }

    private int faultCode(long linear, Access access, Sregs s, int cpl) {
        return assertThrows(PageFault.class, () -> walk(linear, access, s, cpl)).errorCode();
    }

    @Test
    void fourLevelsWith4KiB2MiBAnd1GiBPages() throws Exception {
        long linear = 0xffff_8000_4020_3abcL; // PML4 256, PDPT 1, PD 1, PT 3
        memory.put(0x1000L + 8 * 256, 0x2000 | P | RW);
        memory.put(0x2000L + 8 * 1, 0x3000 | P | RW);
        memory.put(0x3000L + 8 * 1, 0x4000 | P | RW);
        memory.put(0x4000L + 8 * 3, 0x7_7777_7000L | P | RW);
        Sregs s = longMode(0x1000);
        assertEquals(0x7_7777_7abcL, walk(linear, Access.READ, s, 0));
        memory.put(0x3000L + 8 * 1, 0x1_2340_0000L | P | RW | PS); // a 2 MiB page
        assertEquals(0x1_2340_0000L + 0x3abc, walk(linear, Access.WRITE, s, 0));
        memory.put(0x2000L + 8 * 1, 0x8_4000_0000L | P | RW | PS); // a 1 GiB page
        assertEquals(0x8_4000_0000L + 0x20_3abc, walk(linear, Access.READ, s, 0));
    }

    @Test
    void rightsCombineOverEveryLevel() {
        memory.put(0x1000L, 0x2000 | P | RW | US);
        memory.put(0x2000L, 0x3000 | P | US); // read-only from the PDPT down
        memory.put(0x3000L, 0x4000 | P | RW | US);
        memory.put(0x4000L, 0x9000 | P | RW | US);
        Sregs s = longMode(0x1000);
        assertEquals(PageFault.PRESENT | PageFault.WRITE | PageFault.USER, faultCode(0x10, Access.WRITE, s, 3));
        s.cr0 |= PageWalker.CR0_WP;
        assertEquals(PageFault.PRESENT | PageFault.WRITE, faultCode(0x10, Access.WRITE, s, 0));
        memory.put(0x3000L, 0x4000 | P | RW); // supervisor only at the PD
        assertEquals(PageFault.PRESENT | PageFault.USER, faultCode(0x10, Access.READ, s, 3));
        assertEquals(PageFault.WRITE | PageFault.USER, faultCode(0x40_0000, Access.WRITE, s, 3), "PD entry 2 not present");
    }

    @Test
    void fiveLevelsUnderLa57() throws Exception {
        long linear = 0x0002_0000_0000_0123L; // PML5 index 2 (bits 56-48)
        memory.put(0x1000L + 8 * 2, 0x2000 | P | RW);
        memory.put(0x2000L, 0x3000 | P | RW);
        memory.put(0x3000L, 0x4000 | P | RW);
        memory.put(0x4000L, 0x5000 | P | RW);
        memory.put(0x5000L, 0x6000 | P | RW);
        Sregs s = longMode(0x1000);
        s.cr4 |= PageWalker.CR4_LA57;
        assertEquals(0x6123, walk(linear, Access.READ, s, 0));
    }

    @Test
    void paeWithItsFourPdptes() throws Exception {
        Sregs s = new Sregs();
        s.cr0 = Sregs.CR0_PE | Sregs.CR0_PG;
        s.cr4 = Sregs.CR4_PAE;
        s.cr3 = 0x1020; // PDPTEs at a 32-byte boundary
        memory.put(0x1020L + 8 * 3, 0x2000 | P); // 0xc0000000-: the kernel's quarter
        memory.put(0x2000L + 8 * 1, 0x3000 | P | RW);
        memory.put(0x3000L + 8 * 2, 0xabc000 | P | RW);
        assertEquals(0xabc567, walk(0xc020_2567L, Access.WRITE, s, 0));
        assertEquals(PageFault.USER, faultCode(0x1000, Access.READ, s, 3), "PDPTE 0 not present");
    }

    @Test
    void thirtyTwoBitPagingWith4MiBPagesUnderPse() throws Exception {
        Sregs s = new Sregs();
        s.cr0 = Sregs.CR0_PE | Sregs.CR0_PG;
        s.cr3 = 0x1000;
        memory.put(0x1000L + 4 * 0x300, 0x2000 | P | RW | US);
        memory.put(0x2000L + 4 * 5, 0x7000 | P | US);
        assertEquals(0x7123, walk(0xc000_5123L, Access.READ, s, 3));
        assertEquals(PageFault.PRESENT | PageFault.WRITE | PageFault.USER, faultCode(0xc000_5123L, Access.WRITE, s, 3));
        memory.put(0x1000L + 4 * 0x301, 0x0840_0000L | P | RW | PS);
        s.cr4 = PageWalker.CR4_PSE;
        assertEquals(0x0840_0000L + 0x12_3456, walk(0xc052_3456L, Access.READ, s, 0));
    }

    @Test
    void withoutPagingLinearIsPhysical() throws Exception {
        Sregs s = new Sregs();
        s.cr0 = Sregs.CR0_PE;
        assertEquals(0x1234_5678L, walk(0x1234_5678L, Access.WRITE, s, 3));
    }
}
