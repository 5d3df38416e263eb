package vessel.vmm.x86;

import java.util.Arrays;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * The instruction decoder and the assists on any bytes a guest can put at its RIP: decoding ends in an
 * Instruction no longer than the bytes it had (and than 15) or a DecodeException; an assist either
 * completes, leaving RIP just past the instruction, or says what it does not support, and it fails only
 * with the errors of the vCPU access it was given (here, an access outside the fake's RAM).
 */
class X86FuzzTest {
    private static final int[] MODES = {16, 32, 64};

    /** The fake's accesses outside its 64 KiB, as VcpuCpuAccess reports guest addresses that are not RAM. */
    static final class OutsideRam extends Exception {
        OutsideRam(long address, int len) {
            super("linear 0x" + Long.toHexString(address) + " + " + len + " is not RAM");
        }
    }

    @FuzzTest(maxDuration = "5s")
    void decode(FuzzedDataProvider data) {
        int mode = MODES[data.consumeInt(0, 2)];
        byte[] bytes = data.consumeRemainingAsBytes();
        try {
            Instruction insn = Decoder.decode(bytes, mode);
            if (insn.length() < 1 || insn.length() > Math.min(bytes.length, Decoder.MAX_LENGTH)) {
                throw new AssertionError("decoded length " + insn.length() + " from " + bytes.length + " bytes");
            }
        } catch (DecodeException expected) {
            // not an instruction the decoder knows, or too short
        }
    }

    @FuzzTest(maxDuration = "5s")
    void assists(FuzzedDataProvider data) throws Exception {
        int mode = MODES[data.consumeInt(0, 2)];
        AssistsTest.FakeCpu fake = new AssistsTest.FakeCpu(mode);
        for (int r = 0; r < 16; r++) {
            fake.regs.setGpr(r, data.consumeBoolean() ? data.consumeLong() : data.consumeLong(0, 0x10000));
        }
        fake.regs.rflags = data.consumeLong();
        fake.mxcsr = data.consumeInt();
        fake.mxcsrMask = data.consumeBoolean() ? 0 : data.consumeInt();
        byte[] ramBytes = data.consumeBytes(512);
        System.arraycopy(ramBytes, 0, fake.ram, 0x2000, ramBytes.length);
        byte[] bytes = data.consumeRemainingAsBytes();
        Instruction insn;
        try {
            insn = Decoder.decode(bytes, mode);
        } catch (DecodeException e) {
            return;
        }
        CpuAccess cpu = bounded(fake);
        long rip = fake.regs.rip;
        try {
            Assists.Outcome outcome = Assists.complete(insn, cpu);
            // An interrupt delivered (int n, int3, icebp, #PF) leaves RIP at its handler; the rest step over.
            if (outcome.completed() && outcome.kind().stepTraps && fake.regs.rip != rip + insn.length()) {
                throw new AssertionError(outcome + " left RIP at 0x" + Long.toHexString(fake.regs.rip)
                        + " after a " + insn.length() + "-byte instruction at 0x" + Long.toHexString(rip));
            }
            if (!outcome.completed() && fake.regs.rip != rip) {
                throw new AssertionError(outcome + " moved RIP without completing");
            }
        } catch (OutsideRam expected) {
            // the vCPU access failed: the caller reports it, as for any guest address that is not RAM
        }
    }

    /** {@code fake} with its linear accesses checked against its RAM. */
    private static CpuAccess bounded(AssistsTest.FakeCpu fake) {
        return new CpuAccess() {
            @Override public vessel.kvm.Regs regs() { return fake.regs(); }
            @Override public void setRegs(vessel.kvm.Regs r) { fake.setRegs(r); }
            @Override public vessel.kvm.Sregs sregs() { return fake.sregs(); }
            @Override public int mxcsr() { return fake.mxcsr(); }
            @Override public void setMxcsr(int v) { fake.setMxcsr(v); }
            @Override public int mxcsrMask() { return fake.mxcsrMask(); }
            @Override public Xmm xmm(int n) { return fake.xmm(n); }
            @Override public void setXmm(int n, Xmm v) { fake.setXmm(n, v); }

            @Override
            public byte[] readLinear(long a, int len) throws Exception {
                check(a, len);
                return fake.readLinear(a, len);
            }

            @Override
            public byte[] readSystem(long a, int len) throws Exception {
                check(a, len);
                return fake.readSystem(a, len);
            }

            @Override
            public void writeLinear(long a, byte[] d) throws Exception {
                check(a, d.length);
                fake.writeLinear(a, d);
            }

            @Override public void injectPageFault(long address, int code) { fake.injectPageFault(address, code); }
            @Override public void injectException(int v, Integer ec) { fake.injectException(v, ec); }
            @Override public void injectInterrupt(int v) { fake.injectInterrupt(v); }
            @Override public void raiseSingleStep() { fake.raiseSingleStep(); }

            private void check(long a, int len) throws OutsideRam {
                if (len < 0 || a < 0 || a > fake.ram.length - (long) len) {
                    throw new OutsideRam(a, len);
                }
            }
        };
    }
}
