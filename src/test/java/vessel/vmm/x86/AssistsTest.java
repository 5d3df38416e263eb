package vessel.vmm.x86;

import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import vessel.kvm.DescriptorTable;
import vessel.kvm.Regs;
import vessel.kvm.Segment;
import vessel.kvm.Sregs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Each assist on the bytes a compiler emits, against an in-memory CPU. */
class AssistsTest {
    /** A vCPU in memory: flat linear = physical, 64 KiB of RAM. */
    static final class FakeCpu implements CpuAccess {
        final Regs regs = new Regs();
        final Sregs sregs = new Sregs();
        final byte[] ram = new byte[0x10000];
        int mxcsr = 0x1f80;
        int mxcsrMask = 0xffff;
        final Xmm[] xmm = new Xmm[16];
        final List<String> injected = new ArrayList<>();

        FakeCpu(int mode) {
            Segment code = mode == 64 ? Segment.flat(8, true, true) : mode == 32 ? Segment.flat(8, true, false)
                    : Segment.realMode(0x100, true);
            Segment data = mode == 16 ? Segment.realMode(0x100, false) : Segment.flat(0x10, false, mode == 64);
            sregs.cs = code;
            sregs.ds = sregs.es = sregs.ss = sregs.fs = sregs.gs = data;
            sregs.tr = sregs.ldt = data;
            sregs.gdt = sregs.idt = new DescriptorTable(0, 0);
            sregs.cr0 = mode == 16 ? 0 : Sregs.CR0_PE;
            sregs.efer = mode == 64 ? Sregs.EFER_LMA | Sregs.EFER_LME : 0;
            sregs.cr4 = Sregs.CR4_OSFXSR;
            regs.rip = 0x1000;
            java.util.Arrays.fill(xmm, Xmm.ZERO);
        }

        @Override public Regs regs() { return copy(regs); }
        @Override public void setRegs(Regs r) {
            for (int i = 0; i < 16; i++) regs.setGpr(i, r.gpr(i));
            regs.rip = r.rip;
            regs.rflags = r.rflags;
        }
        @Override public Sregs sregs() { return sregs; }
        @Override public int mxcsr() { return mxcsr; }
        @Override public void setMxcsr(int v) { mxcsr = v; }
        @Override public int mxcsrMask() { return mxcsrMask; }
        @Override public Xmm xmm(int n) { return xmm[n]; }
        @Override public void setXmm(int n, Xmm v) { xmm[n] = v; }
        @Override public byte[] readLinear(long a, int len) {
            return java.util.Arrays.copyOfRange(ram, (int) a, (int) a + len);
        }
        @Override public void writeLinear(long a, byte[] d) { System.arraycopy(d, 0, ram, (int) a, d.length); }
        @Override public void injectException(int v, Integer ec) { injected.add("exception " + v + (ec == null ? "" : "/" + ec)); }
        @Override public void injectInterrupt(int v) { injected.add("interrupt " + v); }

        private static Regs copy(Regs r) {
            Regs c = new Regs();
            for (int i = 0; i < 16; i++) c.setGpr(i, r.gpr(i));
            c.rip = r.rip;
            c.rflags = r.rflags;
            return c;
        }
    }

    private FakeCpu cpu;

    @BeforeEach
    void setUp() {
        cpu = new FakeCpu(64);
    }

    private Assists.Outcome run(String hex) throws Exception {
        return run(cpu, hex, 64);
    }

    private static Assists.Outcome run(FakeCpu cpu, String hex, int mode) throws Exception {
        return Assists.complete(Decoder.decode(HexFormat.ofDelimiter(" ").parseHex(hex), mode), cpu);
    }

    @Test
    void int3AdvancesPastItselfAndInjectsBreakpoint() throws Exception {
        assertEquals(Assists.Kind.INT3, run("cc").kind());
        assertEquals(0x1001, cpu.regs.rip);
        assertEquals(List.of("exception 3"), cpu.injected);
    }

    @Test
    void intNIsDeliveredAsAnInterruptAfterTheInstruction() throws Exception {
        assertEquals(Assists.Kind.INT_N, run("cd 20").kind());
        assertEquals(0x1002, cpu.regs.rip);
        assertEquals(List.of("interrupt 32"), cpu.injected);
    }

    @Test
    void clacAndStacFlipAlignmentCheck() throws Exception {
        cpu.regs.rflags = 0x2 | Assists.RFLAGS_AC;
        assertEquals(Assists.Kind.CLAC, run("0f 01 ca").kind());
        assertEquals(0x2, cpu.regs.rflags);
        assertEquals(0x1003, cpu.regs.rip);
        assertEquals(Assists.Kind.STAC, run("0f 01 cb").kind());
        assertEquals(0x2 | Assists.RFLAGS_AC, cpu.regs.rflags);
    }

    @Test
    void fwaitWithNothingPendingIsANoOp() throws Exception {
        assertEquals(Assists.Kind.FWAIT, run("9b").kind());
        assertEquals(0x1001, cpu.regs.rip);
    }

    @Test
    void ldmxcsrFromTheStackAsTheKernelEncodesIt() throws Exception {
        // ldmxcsr 0x4(%rsp), from kernel_fpu_begin_mask
        cpu.regs.rsp = 0x2000;
        cpu.writeLinear(0x2004, new byte[] {(byte) 0x80, 0x3f, 0, 0});
        assertEquals(Assists.Kind.LDMXCSR, run("0f ae 54 24 04").kind());
        assertEquals(0x3f80, cpu.mxcsr);
        assertEquals(0x1005, cpu.regs.rip);
    }

    @Test
    void ldmxcsrWithReservedBitsRaisesGeneralProtection() throws Exception {
        cpu.regs.rax = 0x3000;
        cpu.writeLinear(0x3000, new byte[] {0, 0, 1, 0});
        run("0f ae 10");
        assertEquals(List.of("exception 13/0"), cpu.injected);
        assertEquals(0x1000, cpu.regs.rip, "a fault leaves RIP on the instruction");
        assertEquals(0x1f80, cpu.mxcsr);
    }

    @Test
    void ldmxcsrOfABitTheCpuLacksRaisesGeneralProtection() throws Exception {
        cpu.regs.rax = 0x3000;
        cpu.writeLinear(0x3000, new byte[] {0x40, 0x1f, 0, 0}); // DAZ set
        cpu.mxcsrMask = 0; // a CPU that reports no mask has no DAZ
        run("0f ae 10");
        assertEquals(List.of("exception 13/0"), cpu.injected);
        assertEquals(0x1f80, cpu.mxcsr);
        cpu.injected.clear();
        cpu.mxcsrMask = 0xffff; // one that has it takes the same value
        run("0f ae 10");
        assertEquals(List.of(), cpu.injected);
        assertEquals(0x1f40, cpu.mxcsr);
    }

    @Test
    void stmxcsrStoresToRipRelativeMemory() throws Exception {
        cpu.mxcsr = 0x1fa0;
        // stmxcsr 0x100(%rip): the address counts from the end of the 7-byte instruction
        assertEquals(Assists.Kind.STMXCSR, run("0f ae 1d 00 01 00 00").kind());
        assertArrayEquals(new byte[] {(byte) 0xa0, 0x1f, 0, 0}, cpu.readLinear(0x1007 + 0x100, 4));
    }

    @Test
    void popcntCountsBitsAndSetsZeroFlag() throws Exception {
        cpu.regs.rdi = 0xf0f0_0000_0000_0001L;
        cpu.regs.rflags = 0x2 | Assists.RFLAGS_CF | Assists.RFLAGS_OF;
        assertEquals(Assists.Kind.POPCNT, run("f3 48 0f b8 c7").kind()); // popcnt %rdi,%rax
        assertEquals(9, cpu.regs.rax);
        assertEquals(0x2, cpu.regs.rflags, "CF, OF cleared; ZF clear for a non-zero source");
        assertEquals(0x1005, cpu.regs.rip);

        cpu.regs.rax = 0xffff_ffff_ffff_ffffL;
        cpu.regs.rcx = 0xffff_ffff_0000_0000L;
        run("f3 0f b8 c1"); // popcnt %ecx,%eax: 32-bit, result zero-extends
        assertEquals(0, cpu.regs.rax);
        assertTrue((cpu.regs.rflags & Assists.RFLAGS_ZF) != 0);

        cpu.regs.rbx = 0x1234_5678_9abc_0000L;
        cpu.regs.rdx = 0x00ff;
        run("66 f3 0f b8 da"); // popcnt %dx,%bx: 16-bit, upper bits kept
        assertEquals(0x1234_5678_9abc_0008L, cpu.regs.rbx);
    }

    @Test
    void popcntFromMemoryWithSibIndexAndDisplacement() throws Exception {
        cpu.regs.rsi = 0x4000;
        cpu.regs.rcx = 2;
        cpu.writeLinear(0x4000 + 2 * 8 + 0x10, new byte[] {7, 0, 0, 0, 0, 0, 0, (byte) 0x80});
        run("f3 48 0f b8 44 ce 10"); // popcnt 0x10(%rsi,%rcx,8),%rax
        assertEquals(4, cpu.regs.rax);
    }

    @Test
    void movbeSwapsBytesBothWays() throws Exception {
        cpu.regs.rdi = 0x5000;
        cpu.writeLinear(0x5000, new byte[] {1, 2, 3, 4});
        assertEquals(Assists.Kind.MOVBE, run("0f 38 f0 07").kind()); // movbe (%rdi),%eax
        assertEquals(0x01020304L, cpu.regs.rax);
        cpu.regs.rdx = 0x1122334455667788L;
        run("48 0f 38 f1 17"); // movbe %rdx,(%rdi)
        assertArrayEquals(new byte[] {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, (byte) 0x88}, cpu.readLinear(0x5000, 8));
    }

    @Test
    void sixteenBitAddressingUsesSegmentBaseAndWraps() throws Exception {
        FakeCpu real = new FakeCpu(16);
        real.regs.rbx = 0xfff0;
        real.regs.rsi = 0x0010;
        real.writeLinear(0x1000 + 0x0002, new byte[] {(byte) 0x80, 0x1f, 0, 0});
        // ldmxcsr [bx+si+2]: (0xfff0 + 0x10 + 2) & 0xffff = 2, plus DS base 0x1000
        assertEquals(Assists.Kind.LDMXCSR, run(real, "0f ae 50 02", 16).kind());
        assertEquals(0x1f80, real.mxcsr);
        assertEquals(0x1004, real.regs.rip);
    }

    @Test
    void fsOverrideAddsTheFsBaseInLongMode() throws Exception {
        cpu.sregs.fs = new Segment(0x6000, 0xffffffff, 0x10, 3, true, 0, true, true, false, true, false, false);
        cpu.regs.rax = 0x10;
        cpu.writeLinear(0x6010, new byte[] {(byte) 0xc0, 0x1f, 0, 0});
        run("64 0f ae 10"); // ldmxcsr %fs:(%rax)
        assertEquals(0x1fc0, cpu.mxcsr);
    }

    @Test
    void unknownOrUnassistedInstructionsAreNotTouched() throws Exception {
        Assists.Outcome xrstor = run("48 0f ae 2f"); // xrstor64 (%rdi): decoded, no assist
        assertFalse(xrstor.completed());
        Assists.Outcome cmpxchg16b = run("f0 48 0f c7 0e");
        assertFalse(cmpxchg16b.completed());
        assertEquals(0x1000, cpu.regs.rip);
        assertEquals(List.of(), cpu.injected);
        assertThrows(DecodeException.class, () -> Decoder.decode(new byte[] {(byte) 0x90}, 64));
        assertThrows(DecodeException.class, () -> Decoder.decode(new byte[] {0x0f, (byte) 0xae}, 64), "truncated");
        assertThrows(DecodeException.class, () -> Decoder.decode(new byte[16], 64));
        byte[] prefixes = new byte[16];
        java.util.Arrays.fill(prefixes, (byte) 0x66);
        assertThrows(DecodeException.class, () -> Decoder.decode(prefixes, 64), "over 15 bytes");
    }

    @Test
    void decodedLengthsMatchTheEncodings() throws Exception {
        String[][] cases = {{"cc", "1"}, {"cd 80", "2"}, {"0f 01 ca", "3"}, {"0f ae 54 24 04", "5"},
            {"f3 48 0f b8 c7", "5"}, {"0f ae 1d 00 01 00 00", "7"}, {"0f ae 94 24 00 01 00 00", "8"},
            {"0f ae 14 25 00 10 00 00", "8"}, {"0f 38 f0 07", "4"}, {"66 0f 38 82 01", "5"}};
        for (String[] c : cases) {
            assertEquals(Integer.parseInt(c[1]), Decoder.decode(HexFormat.ofDelimiter(" ").parseHex(c[0]), 64).length(), c[0]);
        }
        Instruction abs = Decoder.decode(HexFormat.ofDelimiter(" ").parseHex("0f ae 14 25 00 10 00 00"), 64);
        assertEquals(-1, abs.base());
        assertEquals(-1, abs.index());
        assertEquals(0x1000, abs.displacement());
    }
}
