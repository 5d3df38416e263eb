package vessel.boot;

import java.lang.foreign.Arena;
import java.util.List;

import org.junit.jupiter.api.Test;

import vessel.kvm.CpuidEntry;
import vessel.memory.GuestMemory;
import vessel.testkit.TestMemory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class X86CpuTest {
    @Test
    void identityMapCoversFourGibWithTwoMibPages() {
        try (Arena arena = Arena.ofConfined()) {
            GuestMemory mem = TestMemory.of(arena, 1 << 20);
            X86Cpu.writeIdentityMap(mem);
            assertEquals(GuestLayout.PDPT | 3, mem.readLong(GuestLayout.PML4));
            for (int dir = 0; dir < 4; dir++) {
                long pd = mem.readLong(GuestLayout.PDPT + 8L * dir) & ~0xfffL;
                assertEquals(GuestLayout.PAGE_DIRECTORIES + 0x1000L * dir, pd);
                for (int i : new int[] {0, 1, 511}) {
                    long pde = mem.readLong(pd + 8L * i);
                    assertEquals(((long) dir << 30) | ((long) i << 21), pde & ~0xfffL, "dir " + dir + " entry " + i);
                    assertEquals(0x83, pde & 0xfff, "present, writable, 2 MiB");
                }
            }
        }
    }

    @Test
    void cpuidCarriesEachVcpusApicId() {
        List<CpuidEntry> supported = List.of(new CpuidEntry(1, 0, 0, 0x806f8, 0x00000800, 0, 0),
                new CpuidEntry(0xb, 0, 1, 1, 1, 0x100, 0), new CpuidEntry(7, 0, 1, 0, 0xffff, 0, 0));
        List<CpuidEntry> third = X86Cpu.cpuidFor(supported, 2, 4);
        assertEquals(2, third.get(0).ebx() >>> 24, "leaf 1 initial APIC ID");
        assertEquals(4, (third.get(0).ebx() >>> 16) & 0xff, "leaf 1 logical processor count");
        assertEquals(0x800, third.get(0).ebx() & 0xffff, "CLFLUSH size kept");
        assertEquals(1 << 31, third.get(0).ecx() & (1 << 31), "hypervisor bit: Linux looks for kvmclock only then");
        assertEquals(2, third.get(1).edx(), "leaf 0xB x2APIC ID");
        assertEquals(supported.get(2), third.get(2), "other leaves untouched");
    }

    @Test
    void tscDeadlineTimerIsOfferedInLeafOneOnly() {
        List<CpuidEntry> supported = List.of(new CpuidEntry(1, 0, 0, 0, 0, 0x81202000, 0),
                new CpuidEntry(7, 0, 1, 0, 0, 0, 0));
        List<CpuidEntry> offered = X86Cpu.withTscDeadlineTimer(supported);
        assertEquals(0x81202000 | (1 << 24), offered.get(0).ecx());
        assertEquals(supported.get(1), offered.get(1));
    }

    @Test
    void ramRangesSkipTheMmioHole() {
        assertEquals(List.of(new GuestMemory.Range(0, 256L << 20)), GuestLayout.ramRanges(256L << 20));
        assertEquals(List.of(new GuestMemory.Range(0, GuestLayout.MMIO_HOLE_START),
                        new GuestMemory.Range(GuestLayout.FOUR_GIB, 1L << 30)),
                GuestLayout.ramRanges(4L << 30));
    }

    @Test
    void hostLimitsTakeFeaturesOutOfCpuid() {
        List<CpuidEntry> supported = List.of(new CpuidEntry(1, 0, 0, 0, 0, 0xffffffff, 0),
                new CpuidEntry(0x40000001, 0, 0, 0xffffffff, 0, 0, 0));
        List<CpuidEntry> kept = X86Cpu.cpuidFor(supported, 0, 1, X86Cpu.CpuidLimits.NONE);
        assertEquals(0xffffffff, kept.get(0).ecx());
        List<CpuidEntry> limited = X86Cpu.cpuidFor(supported, 0, 1, new X86Cpu.CpuidLimits(true, true));
        assertEquals(0, limited.get(0).ecx() & (1 << 13), "CX16 hidden");
        assertEquals(0, limited.get(1).eax() & (1 << 7 | 1 << 9 | 1 << 11 | 1 << 13), "hypercall PV features hidden");
        assertEquals(1, limited.get(1).eax() & 1, "kvmclock kept");
    }

    @Test
    void bootMsrsEnableWriteBackMtrrs() {
        assertTrue(X86Cpu.bootMsrs().contains(new vessel.kvm.MsrEntry(0x2ff, 0x806)));
    }

    @Test
    void memoryMapReservesTheEbdaTheBiosAreaAndThePciEcamWindow() {
        try (Arena arena = Arena.ofConfined()) {
            GuestMemory mem = TestMemory.of(arena, 4L << 20);
            var reserved = GuestLayout.MemoryMapEntry.Type.RESERVED;
            var ram = GuestLayout.MemoryMapEntry.Type.RAM;
            assertEquals(List.of(
                            new GuestLayout.MemoryMapEntry(0, 0x9fc00, ram),
                            new GuestLayout.MemoryMapEntry(0x9fc00, 0x400, reserved),
                            new GuestLayout.MemoryMapEntry(0xe0000, 0x20000, reserved),
                            new GuestLayout.MemoryMapEntry(0x100000, 3L << 20, ram),
                            new GuestLayout.MemoryMapEntry(0xe000_0000L, 1L << 20, reserved)),
                    GuestLayout.memoryMap(mem));
        }
    }

    @Test
    void wakeEntryComesFromTheFacsXVectorFirstThenTheRealModeVector() {
        try (Arena arena = Arena.ofConfined()) {
            GuestMemory mem = TestMemory.of(arena, 1 << 20);
            long facs = 0xe1000;
            mem.write(facs, new vessel.boot.acpi.Facs(0).toBytes());
            assertTrue(X86Cpu.WakeEntry.fromFacs(mem, facs).isEmpty(), "the OS left no vector");
            mem.writeInt(facs + 12, 0x9a000);
            assertEquals(new X86Cpu.WakeEntry(0x9a000, false), X86Cpu.WakeEntry.fromFacs(mem, facs).orElseThrow());
            mem.writeLong(facs + 24, 0x20_0000L);
            assertEquals(new X86Cpu.WakeEntry(0x20_0000L, true), X86Cpu.WakeEntry.fromFacs(mem, facs).orElseThrow());
            mem.writeLong(facs + 24, 0x1_0000_0000L); // beyond what 32-bit protected mode reaches: ignored
            assertEquals(new X86Cpu.WakeEntry(0x9a000, false), X86Cpu.WakeEntry.fromFacs(mem, facs).orElseThrow());
            mem.writeLong(facs + 24, 0);
            mem.writeInt(facs + 12, 0x10_0000); // no real-mode CS:IP reaches 1 MiB
            assertTrue(X86Cpu.WakeEntry.fromFacs(mem, facs).isEmpty());
        }
    }
}
