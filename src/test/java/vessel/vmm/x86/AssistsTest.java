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
            sregs.gdt = new DescriptorTable(0, 0);
            // 256 present interrupt gates of DPL 0, as a kernel sets them (16-byte gates in long mode).
            int gate = mode == 64 ? 16 : 8;
            sregs.idt = new DescriptorTable(IDT, 256 * gate - 1);
            for (int v = 0; v < 256; v++) {
                setGate(v, 0, true);
            }
            sregs.cr0 = mode == 16 ? 0 : Sregs.CR0_PE;
            sregs.efer = mode == 64 ? Sregs.EFER_LMA | Sregs.EFER_LME : 0;
            sregs.cr4 = Sregs.CR4_OSFXSR;
            regs.rip = 0x1000;
            java.util.Arrays.fill(xmm, Xmm.ZERO);
        }

        static final int IDT = 0x8000;

        /** Gate {@code vector}'s access byte: present, DPL, a 64- or 32-bit interrupt gate. */
        void setGate(int vector, int dpl, boolean present) {
            int gate = (sregs.efer & Sregs.EFER_LMA) != 0 ? 16 : 8;
            ram[IDT + vector * gate + 5] = (byte) ((present ? 0x80 : 0) | dpl << 5 | 0xe);
        }

        /** Runs at CPL {@code cpl}: SS.DPL (and CS's) as KVM reports it. */
        void setCpl(int cpl) {
            Segment c = sregs.cs;
            Segment d = sregs.ss;
            sregs.cs = new Segment(c.base(), c.limit(), c.selector() | cpl, c.type(), true, cpl, c.db(), true, c.l(), c.g(), false, false);
            sregs.ss = new Segment(d.base(), d.limit(), d.selector() | cpl, d.type(), true, cpl, d.db(), true, false, d.g(), false, false);
        }

        void writeLinearRaw(long physical, long value) {
            System.arraycopy(Assists.le(value, 8), 0, ram, (int) physical, 8);
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
        /** Through the page tables in {@link #ram} once CR0.PG is set, byte by byte (tests are small). */
        private int physical(long a, PageWalker.Access access) throws Exception {
            return (int) PageWalker.translate(a, access, sregs, regs.rflags, Assists.cpl(sregs, regs.rflags), new PageWalker.PhysicalMemory() {
                @Override public long readLong(long p) { return Assists.fromLe(java.util.Arrays.copyOfRange(ram, (int) p, (int) p + 8)); }
                @Override public int readInt(long p) { return (int) Assists.fromLe(java.util.Arrays.copyOfRange(ram, (int) p, (int) p + 4)); }
            });
        }
        private byte[] read(long a, int len, PageWalker.Access access) throws Exception {
            byte[] out = new byte[len];
            for (int i = 0; i < len; i++) out[i] = ram[physical(a + i, access)];
            return out;
        }
        @Override public byte[] readLinear(long a, int len) throws Exception { return read(a, len, PageWalker.Access.READ); }
        @Override public byte[] readSystem(long a, int len) throws Exception { return read(a, len, PageWalker.Access.IMPLICIT_READ); }
        @Override public void writeLinear(long a, byte[] d) throws Exception {
            int[] p = new int[d.length];
            for (int i = 0; i < d.length; i++) p[i] = physical(a + i, PageWalker.Access.WRITE); // all first, as the CPU
            for (int i = 0; i < d.length; i++) ram[p[i]] = d[i];
        }
        @Override public void injectPageFault(long address, int code) {
            sregs.cr2 = address;
            injected.add("page fault 0x" + Long.toHexString(address) + "/" + code);
        }
        @Override public void injectException(int v, Integer ec) { injected.add("exception " + v + (ec == null ? "" : "/" + ec)); }
        @Override public void injectInterrupt(int v) { injected.add("interrupt " + v); }
        @Override public void raiseSingleStep() { injected.add("single-step"); }

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
    void icebpAdvancesPastItselfAndRaisesDebugTrap() throws Exception {
        assertEquals(Assists.Kind.ICEBP, run("f1").kind());
        assertEquals(0x1001, cpu.regs.rip);
        assertEquals(List.of("exception 1"), cpu.injected);
    }

    @Test
    void withTrapFlagSetACompletedInstructionTrapsAfterwards() throws Exception {
        cpu.regs.rflags = 0x2 | Assists.RFLAGS_TF | Assists.RFLAGS_AC;
        assertEquals(Assists.Kind.CLAC, run("0f 01 ca").kind());
        assertEquals(0x1003, cpu.regs.rip);
        assertEquals(List.of("single-step"), cpu.injected);
    }

    @Test
    void withTrapFlagSetExceptionsAndFaultsDoNotAlsoStep() throws Exception {
        cpu.regs.rflags = 0x2 | Assists.RFLAGS_TF;
        run("cc");
        assertEquals(List.of("exception 3"), cpu.injected);
        cpu.injected.clear();
        cpu.regs.rax = 0x3000;
        cpu.writeLinear(0x3000, new byte[] {0, 0, 1, 0});
        run("0f ae 10"); // ldmxcsr with a reserved bit: #GP, RIP stays, no step trap
        assertEquals(List.of("exception 13/0"), cpu.injected);
    }

    @Test
    void withoutTrapFlagNoStepTrap() throws Exception {
        run("0f 01 ca");
        assertTrue(cpu.injected.isEmpty(), cpu.injected.toString());
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

    // SSE2 register forms. The expected values were computed by the host CPU running the same
    // instruction on the same inputs (a C program with inline asm), not by hand.

    private static final Xmm A = new Xmm(0x0123456789abcdefL, 0xfedcba9876543210L);
    private static final Xmm B = new Xmm(0xf0e1d2c3b4a59687L, 0x7f6e5d4c3b2a1908L);

    private static Xmm xmm(String hiUnderscoreLo) {
        String[] halves = hiUnderscoreLo.split("_");
        return new Xmm(Long.parseUnsignedLong(halves[1], 16), Long.parseUnsignedLong(halves[0], 16));
    }

    @Test
    void movdFromAGeneralRegisterAsTheKernelsBlake2sEncodesIt() throws Exception {
        cpu.regs.rcx = 0xffff_ffff_1234_5678L;
        cpu.xmm[15] = new Xmm(-1, -1);
        // movd %ecx,%xmm15: the instruction a Debian 6.1 kernel stopped on (REX.R for xmm15)
        assertEquals(Assists.Kind.MOVD, run("66 44 0f 6e f9").kind());
        assertEquals(new Xmm(0x1234_5678L, 0), cpu.xmm[15], "zero-extended to 128 bits");
        assertEquals(0x1005, cpu.regs.rip);
        run("66 48 0f 6e c9"); // movq %rcx,%xmm1
        assertEquals(new Xmm(0xffff_ffff_1234_5678L, 0), cpu.xmm[1]);
    }

    @Test
    void movdToAGeneralRegisterZeroExtendsAndMovqTakesAll64Bits() throws Exception {
        cpu.regs.rax = -1;
        cpu.xmm[2] = new Xmm(0x1122_3344_5566_7788L, 0x99);
        run("66 0f 7e d0"); // movd %xmm2,%eax
        assertEquals(0x5566_7788L, cpu.regs.rax);
        cpu.xmm[9] = new Xmm(0x1122_3344_5566_7788L, 0x99);
        assertEquals(Assists.Kind.MOVD, run("66 4d 0f 7e ca").kind()); // movq %xmm9,%r10
        assertEquals(0x1122_3344_5566_7788L, cpu.regs.r10);
    }

    @Test
    void movqBetweenXmmRegistersClearsTheUpperHalf() throws Exception {
        cpu.xmm[3] = A;
        cpu.xmm[4] = B;
        assertEquals(Assists.Kind.MOVQ, run("f3 0f 7e e3").kind()); // movq %xmm3,%xmm4
        assertEquals(new Xmm(A.lo(), 0), cpu.xmm[4]);
        assertEquals(0x1004, cpu.regs.rip);
        cpu.xmm[4] = B;
        cpu.xmm[3] = A;
        assertEquals(Assists.Kind.MOVQ, run("66 0f d6 e3").kind()); // movq %xmm4,%xmm3 (the store form)
        assertEquals(new Xmm(B.lo(), 0), cpu.xmm[3]);
    }

    @Test
    void movdqaAndMovdquCopyWholeRegistersBothDirections() throws Exception {
        cpu.xmm[8] = A;
        assertEquals(Assists.Kind.MOVDQ, run("66 41 0f 6f c0").kind()); // movdqa %xmm8,%xmm0
        assertEquals(A, cpu.xmm[0]);
        cpu.xmm[0] = B;
        run("f3 44 0f 6f c8"); // movdqu %xmm0,%xmm9
        assertEquals(B, cpu.xmm[9]);
        cpu.xmm[8] = A;
        run("f3 44 0f 7f c1"); // movdqu %xmm8,%xmm1 (7F: the destination is ModRM.rm)
        assertEquals(A, cpu.xmm[1]);
        run("66 41 0f 7f d2"); // movdqa %xmm2,%xmm10
        assertEquals(cpu.xmm[2], cpu.xmm[10]);
    }

    @Test
    void packedAddsAndLogicMatchTheCpu() throws Exception {
        String[][] cases = {
            {"66 0f fe c1", "7e4b17e4b17e4b18_f205182a3e516476"}, // paddd %xmm1,%xmm0: each dword wraps
            {"66 0f d4 c1", "7e4b17e4b17e4b18_f205182b3e516476"}, // paddq: the carry crosses dwords
            {"66 0f ef c1", "81b2e7d44d7e2b18_f1c297a43d0e5b68"}, // pxor
            {"66 0f eb c1", "fffeffdc7f7e3b18_f1e3d7e7bdafdfef"}, // por
            {"66 0f db c1", "7e4c180832001000_0021404380a18487"}, // pand
            {"66 0f 62 c1", "f0e1d2c301234567_b4a5968789abcdef"}, // punpckldq
            {"66 0f 6a c1", "7f6e5d4cfedcba98_3b2a190876543210"}, // punpckhdq
            {"66 0f 6c c1", "f0e1d2c3b4a59687_0123456789abcdef"}, // punpcklqdq
            {"66 0f 6d c1", "7f6e5d4c3b2a1908_fedcba9876543210"}, // punpckhqdq
        };
        for (String[] c : cases) {
            cpu.xmm[0] = A;
            cpu.xmm[1] = B;
            assertTrue(run(c[0]).completed(), c[0]);
            assertEquals(xmm(c[1]), cpu.xmm[0], c[0]);
            assertEquals(B, cpu.xmm[1], c[0] + ": the source is not written");
        }
        cpu.xmm[15] = A;
        cpu.xmm[1] = B;
        assertEquals(Assists.Kind.PADD, run("66 44 0f fe f9").kind()); // paddd %xmm1,%xmm15 (REX.R)
        assertEquals(xmm("7e4b17e4b17e4b18_f205182a3e516476"), cpu.xmm[15]);
        cpu.xmm[1] = A;
        cpu.xmm[15] = B;
        assertEquals(Assists.Kind.PLOGIC, run("66 41 0f ef cf").kind()); // pxor %xmm15,%xmm1 (REX.B)
        assertEquals(xmm("81b2e7d44d7e2b18_f1c297a43d0e5b68"), cpu.xmm[1]);
    }

    @Test
    void shiftsByImmediateMatchTheCpuIncludingCountsPastTheLaneWidth() throws Exception {
        String[][] cases = {
            {"66 0f 72 d1 07", "01fdb97500eca864_0002468a0113579b"}, // psrld $7
            {"66 0f 72 f1 19", "3000000020000000_ce000000de000000"}, // pslld $25
            {"66 0f 72 e1 03", "ffdb97530eca8642_002468acf13579bd"}, // psrad $3
            {"66 0f 72 e1 28", "ffffffff00000000_00000000ffffffff"}, // psrad $40: the sign fills
            {"66 0f 73 d1 21", "000000007f6e5d4c_000000000091a2b3"}, // psrlq $33
            {"66 0f 73 f1 21", "eca8642000000000_13579bde00000000"}, // psllq $33
            {"66 0f 73 d9 04", "00000000fedcba98_7654321001234567"}, // psrldq $4 (bytes)
            {"66 0f 73 f9 08", "0123456789abcdef_0000000000000000"}, // pslldq $8
            {"66 0f 73 d9 10", "0000000000000000_0000000000000000"}, // psrldq $16
            {"66 0f 71 d1 14", "0000000000000000_0000000000000000"}, // psrlw $20
            {"66 0f 71 e1 14", "ffffffff00000000_00000000ffffffff"}, // psraw $20
            {"66 0f 71 e1 03", "ffdbf7530eca0642_002408acf135f9bd"}, // psraw $3
            {"66 0f 71 f1 04", "edc0a98065402100_123056709ab0def0"}, // psllw $4
        };
        for (String[] c : cases) {
            cpu.xmm[1] = A;
            assertEquals(Assists.Kind.PSHIFT, run(c[0]).kind(), c[0]);
            assertEquals(xmm(c[1]), cpu.xmm[1], c[0]);
        }
        cpu.xmm[11] = A;
        run("66 41 0f 71 f3 04"); // psllw $4,%xmm11: REX.B extends ModRM.rm, the shifted register
        assertEquals(xmm("edc0a98065402100_123056709ab0def0"), cpu.xmm[11]);
        assertEquals(0x1000 + 5 * cases.length + 6, cpu.regs.rip, "each shift is 5 bytes, the REX one 6");
    }

    @Test
    void pshufdPicksDwordsByTheImmediate() throws Exception {
        cpu.xmm[1] = A;
        cpu.xmm[2] = B;
        assertEquals(Assists.Kind.PSHUFD, run("66 0f 70 d1 93").kind()); // pshufd $0x93,%xmm1,%xmm2
        assertEquals(xmm("7654321001234567_89abcdeffedcba98"), cpu.xmm[2]);
        assertEquals(A, cpu.xmm[1]);
        assertEquals(0x1005, cpu.regs.rip);
    }

    @Test
    void sse2FaultsAsTheCpuWouldWithoutSseEnabledOrWithTheFpuSwitchedOut() throws Exception {
        cpu.xmm[1] = A;
        cpu.sregs.cr4 = 0; // no OSFXSR: #UD
        run("66 0f ef c1");
        assertEquals(List.of("exception 6"), cpu.injected);
        cpu.injected.clear();
        cpu.sregs.cr4 = Sregs.CR4_OSFXSR;
        cpu.sregs.cr0 |= Sregs.CR0_TS; // lazy FPU switch pending: #NM
        run("66 0f ef c1");
        assertEquals(List.of("exception 7"), cpu.injected);
        cpu.injected.clear();
        cpu.sregs.cr0 &= ~Sregs.CR0_TS;
        run("f0 66 0f ef c1"); // lock pxor: #UD
        assertEquals(List.of("exception 6"), cpu.injected);
        assertEquals(0x1000, cpu.regs.rip, "a fault leaves RIP on the instruction");
        assertEquals(A, cpu.xmm[1]);
    }

    @Test
    void sse2MemoryFormsAndMmxFormsAreReportedNotCompleted() throws Exception {
        cpu.xmm[1] = A;
        cpu.regs.rdi = 0x2000;
        Assists.Outcome memory = run("66 0f 6e 0f"); // movd (%rdi),%xmm1
        assertFalse(memory.completed());
        assertTrue(memory.unsupported().contains("memory operand"), memory.unsupported());
        assertFalse(run("0f 6e c8").completed(), "movd %eax,%mm1: MMX, no 66 prefix");
        assertFalse(run("f2 0f 7e c1").completed(), "F2 0F 7E is no SSE2 instruction");
        assertFalse(run("66 0f 72 c1 03").completed(), "group 13 /0 is undefined");
        assertEquals(A, cpu.xmm[1]);
        assertEquals(0x1000, cpu.regs.rip);
        assertEquals(List.of(), cpu.injected);
    }

    @Test
    void sse2DecodedLengths() throws Exception {
        String[][] cases = {{"66 44 0f 6e f9", "5"}, {"66 0f 7e d0", "4"}, {"66 0f 72 d1 07", "5"},
            {"66 41 0f 71 f3 04", "6"}, {"66 0f 70 d1 93", "5"}, {"f3 44 0f 6f c8", "5"},
            {"66 0f 6e 44 24 08", "6"}, {"66 0f 70 05 00 01 00 00 93", "9"}};
        for (String[] c : cases) {
            assertEquals(Integer.parseInt(c[1]), Decoder.decode(HexFormat.ofDelimiter(" ").parseHex(c[0]), 64).length(), c[0]);
        }
    }

    // Privilege: an assisted instruction faults where the CPU would.

    @Test
    void clacAndStacOutsideRing0RaiseInvalidOpcode() throws Exception {
        cpu.setCpl(3);
        cpu.regs.rflags = 0x2;
        run("0f 01 cb"); // stac
        assertEquals(List.of("exception 6"), cpu.injected);
        assertEquals(0x2, cpu.regs.rflags, "AC not set from user mode");
        assertEquals(0x1000, cpu.regs.rip);
    }

    @Test
    void intNThroughAGateOfLowerPrivilegeIsAGeneralProtectionFault() throws Exception {
        cpu.setCpl(3);
        cpu.setGate(0x80, 3, true);
        run("cd 20"); // the gate is DPL 0: #GP with the IDT entry as error code (vector << 3 | IDT bit)
        assertEquals(List.of("exception 13/" + (0x20 << 3 | 2)), cpu.injected);
        assertEquals(0x1000, cpu.regs.rip, "a fault leaves RIP on the int");
        cpu.injected.clear();
        assertEquals(Assists.Kind.INT_N, run("cd 80").kind()); // a DPL 3 gate lets user mode in
        assertEquals(List.of("interrupt 128"), cpu.injected);
        assertEquals(0x1002, cpu.regs.rip);
    }

    @Test
    void int3FromUserModeNeedsADpl3GateToo() throws Exception {
        cpu.setCpl(3);
        run("cc");
        assertEquals(List.of("exception 13/" + (3 << 3 | 2)), cpu.injected);
        assertEquals(0x1000, cpu.regs.rip);
        cpu.injected.clear();
        cpu.setGate(3, 3, true); // Linux's int3 gate is DPL 3
        run("cc");
        assertEquals(List.of("exception 3"), cpu.injected);
        assertEquals(0x1001, cpu.regs.rip);
    }

    @Test
    void intNThroughANotPresentGateOrPastTheIdtLimitFaults() throws Exception {
        cpu.setGate(0x21, 0, false);
        run("cd 21");
        assertEquals(List.of("exception 11/" + (0x21 << 3 | 2)), cpu.injected, "#NP");
        cpu.injected.clear();
        cpu.sregs.idt = new DescriptorTable(FakeCpu.IDT, 0x40 * 16 - 1);
        run("cd 40");
        assertEquals(List.of("exception 13/" + (0x40 << 3 | 2)), cpu.injected, "beyond the limit: #GP");
        assertEquals(0x1000, cpu.regs.rip);
    }

    @Test
    void protectedModeGatesAreEightBytes() throws Exception {
        FakeCpu p = new FakeCpu(32);
        p.setCpl(3);
        p.setGate(0x80, 3, true);
        assertEquals(Assists.Kind.INT_N, run(p, "cd 80", 32).kind());
        assertEquals(List.of("interrupt 128"), p.injected);
        p.injected.clear();
        run(p, "cd 81", 32);
        assertEquals(List.of("exception 13/" + (0x81 << 3 | 2)), p.injected);
    }

    /**
     * Long-mode page tables in the fake CPU's RAM: PML4 0xa000, PDPT 0xb000, PD 0xc000, PT 0xd000;
     * linear page N below 2 MiB maps to physical page N with {@code flags} (P|RW|US given per test).
     */
    private void pageTables(long defaultFlags) {
        long[][] entries = {{0xa000, 0xb000 | 7}, {0xb000, 0xc000 | 7}, {0xc000, 0xd000 | 7}};
        for (long[] e : entries) {
            cpu.writeLinearRaw(e[0], e[1]);
        }
        for (int page = 0; page < 16; page++) {
            cpu.writeLinearRaw(0xd000 + 8L * page, (long) page << 12 | defaultFlags);
        }
        cpu.sregs.cr3 = 0xa000;
        cpu.sregs.cr4 |= Sregs.CR4_PAE;
        cpu.sregs.cr0 |= Sregs.CR0_PG;
    }

    private static final long P = 1, RW = 2, US = 4;

    @Test
    void stmxcsrToAReadOnlyPageFaultsUnderWriteProtectAndWritesNothing() throws Exception {
        pageTables(P | RW);
        cpu.writeLinearRaw(0xd000 + 8 * 5, 0x5000 | P); // page 5 read-only
        cpu.sregs.cr0 |= 1L << 16; // CR0.WP
        cpu.regs.rdi = 0x5010;
        assertEquals(Assists.Kind.PAGE_FAULT, run("0f ae 1f").kind()); // stmxcsr (%rdi)
        assertEquals(List.of("page fault 0x5010/3"), cpu.injected, "present, write, supervisor");
        assertEquals(0x5010, cpu.sregs.cr2);
        assertArrayEquals(new byte[4], java.util.Arrays.copyOfRange(cpu.ram, 0x5010, 0x5014));
        assertEquals(0x1000, cpu.regs.rip, "a fault leaves RIP on the instruction");
        cpu.injected.clear();
        cpu.sregs.cr0 &= ~(1L << 16); // without WP the kernel may write read-only pages
        assertEquals(Assists.Kind.STMXCSR, run("0f ae 1f").kind());
        assertArrayEquals(new byte[] {(byte) 0x80, 0x1f, 0, 0}, java.util.Arrays.copyOfRange(cpu.ram, 0x5010, 0x5014));
    }

    @Test
    void aStoreAcrossIntoAReadOnlyPageWritesNoByteOfEitherPage() throws Exception {
        pageTables(P | RW);
        cpu.writeLinearRaw(0xd000 + 8 * 6, 0x6000 | P);
        cpu.sregs.cr0 |= 1L << 16;
        cpu.regs.rdi = 0x5ffc;
        cpu.regs.rdx = 0x1122334455667788L;
        run("48 0f 38 f1 17"); // movbe %rdx,(%rdi): 4 bytes on page 5, 4 on read-only page 6
        assertEquals(List.of("page fault 0x6000/3"), cpu.injected);
        assertArrayEquals(new byte[8], java.util.Arrays.copyOfRange(cpu.ram, 0x5ffc, 0x6004));
    }

    @Test
    void userModeOperandsNeedUserPagesAndNotPresentIsAFaultToo() throws Exception {
        pageTables(P | RW | US);
        cpu.writeLinearRaw(0xd000 + 8 * 4, 0x4000 | P | RW); // page 4: supervisor only
        cpu.setCpl(3);
        cpu.setGate(0x80, 3, true);
        cpu.regs.rsi = 0x4000;
        run("f3 48 0f b8 06"); // popcnt (%rsi),%rax from user mode
        assertEquals(List.of("page fault 0x4000/5"), cpu.injected, "present, read, user");
        cpu.injected.clear();
        cpu.writeLinearRaw(0xd000 + 8 * 4, 0); // not present
        run("f3 48 0f b8 06");
        assertEquals(List.of("page fault 0x4000/4"), cpu.injected, "not present, read, user");
        cpu.injected.clear();
        cpu.regs.rsi = 0x3000; // a user page reads fine
        cpu.ram[0x3000] = 7;
        assertEquals(Assists.Kind.POPCNT, run("f3 48 0f b8 06").kind());
        assertEquals(3, cpu.regs.rax);
    }

    @Test
    void smapKeepsTheKernelOutOfUserPagesUnlessAcIsSet() throws Exception {
        pageTables(P | RW | US);
        cpu.sregs.cr4 |= 1L << 21; // CR4.SMAP
        cpu.regs.rax = 0x3000;
        run("0f ae 10"); // ldmxcsr (%rax) at CPL 0 from a user page, AC clear
        assertEquals(List.of("page fault 0x3000/1"), cpu.injected);
        cpu.injected.clear();
        cpu.ram[0x3000] = (byte) 0x80;
        cpu.ram[0x3001] = 0x1f;
        cpu.regs.rflags |= Assists.RFLAGS_AC; // stac'd: allowed
        assertEquals(Assists.Kind.LDMXCSR, run("0f ae 10").kind());
        assertEquals(List.of(), cpu.injected);
        // The IDT is read as the CPU's own (implicit) access: AC does not open user pages to it.
        run("cd 20");
        assertEquals(List.of("page fault 0x8205/1"), cpu.injected);
    }
}
