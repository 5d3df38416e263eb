package vessel.gdb;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import vessel.kvm.Regs;
import vessel.kvm.Segment;
import vessel.kvm.Sregs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The command set against an in-memory target: register layout, memory, breakpoints, bad packets. */
class GdbSessionTest {
    static final class FakeTarget implements DebugTarget {
        final Regs regs = new Regs();
        final Sregs sregs = new Sregs();
        final byte[] ram = new byte[0x2000];
        final List<Long> breakpoints = new ArrayList<>();
        final List<String> calls = new ArrayList<>();

        FakeTarget() {
            sregs.cs = Segment.flat(8, true, true);
            sregs.ds = sregs.es = sregs.ss = sregs.fs = sregs.gs = Segment.flat(0x10, false, true);
        }

        @Override public Event attach() { return new Stopped(SIGTRAP); }
        @Override public Regs registers() {
            Regs c = new Regs();
            for (int i = 0; i < 16; i++) c.setGpr(i, regs.gpr(i));
            c.rip = regs.rip;
            c.rflags = regs.rflags;
            return c;
        }
        @Override public Sregs segments() { return sregs; }
        @Override public void setRegisters(Regs r) {
            for (int i = 0; i < 16; i++) regs.setGpr(i, r.gpr(i));
            regs.rip = r.rip;
            regs.rflags = r.rflags;
        }
        @Override public byte[] readMemory(long a, int len) {
            if (a < 0 || a >= ram.length) return new byte[0];
            return Arrays.copyOfRange(ram, (int) a, (int) Math.min(ram.length, a + len));
        }
        @Override public void writeMemory(long a, byte[] d) {
            if (a < 0 || a + d.length > ram.length) throw new IllegalStateException("unmapped");
            System.arraycopy(d, 0, ram, (int) a, d.length);
        }
        @Override public boolean insertBreakpoint(long a) {
            if (breakpoints.size() == 4) return false;
            breakpoints.add(a);
            return true;
        }
        @Override public boolean removeBreakpoint(long a) { return breakpoints.remove(a); }
        @Override public void resume(boolean step) { calls.add(step ? "step" : "continue"); }
        @Override public void interrupt() { calls.add("interrupt"); }
        @Override public Event awaitEvent(long millis) { return null; }
        @Override public void detach() { calls.add("detach"); }
        @Override public void kill() { calls.add("kill"); }
    }

    private FakeTarget target;
    private GdbSession session;

    @BeforeEach
    void setUp() {
        target = new FakeTarget();
        session = new GdbSession(target);
    }

    @Test
    void theGPacketIsGdbsX8664OrderLittleEndian() {
        target.regs.rax = 0x1122334455667788L;
        target.regs.rbx = 2;
        target.regs.rsp = 0xfff0;
        target.regs.r15 = -1;
        target.regs.rip = 0x10148;
        target.regs.rflags = 0x246;
        String g = session.handle("g");
        assertEquals(GdbRegisters.G_HEX_LENGTH, g.length());
        assertEquals("8877665544332211", g.substring(0, 16)); // rax
        assertEquals("0200000000000000", g.substring(16, 32)); // rbx
        assertEquals("f0ff000000000000", g.substring(7 * 16, 8 * 16)); // rsp is GDB's 7th
        assertEquals("ffffffffffffffff", g.substring(15 * 16, 16 * 16)); // r15
        assertEquals("4801010000000000", g.substring(16 * 16, 17 * 16)); // rip
        assertEquals("46020000", g.substring(17 * 16, 17 * 16 + 8)); // eflags, 32 bits
        assertEquals("08000000", g.substring(17 * 16 + 8, 17 * 16 + 16)); // cs
        assertEquals("10000000", g.substring(17 * 16 + 16, 17 * 16 + 24)); // ss
        assertEquals("4801010000000000", session.handle("p10"));
        assertEquals("46020000", session.handle("p11"));
        assertEquals("E01", session.handle("p18")); // beyond the g packet
    }

    @Test
    void registersAreWrittenByNumberAndAsAWhole() {
        assertEquals("OK", session.handle("P0=efbeadde00000000"));
        assertEquals(0xdeadbeefL, target.regs.rax);
        assertEquals("OK", session.handle("P6=0010000000000000")); // rbp is GDB's 6
        assertEquals(0x1000, target.regs.rbp);
        String g = session.handle("g");
        String changed = "0100000000000000" + g.substring(16);
        assertEquals("OK", session.handle("G" + changed));
        assertEquals(1, target.regs.rax);
        assertEquals("E01", session.handle("G1234")); // short
        assertEquals("E01", session.handle("P12=09000000")); // a segment selector
        assertEquals("E01", session.handle("P0=zz"));
    }

    @Test
    void memoryReadsWritesAndBounds() {
        assertEquals("OK", session.handle("M100,4:deadbeef"));
        assertEquals("deadbeef", session.handle("m100,4"));
        assertEquals("OK", session.handle("M1ffe,2:beef"));
        assertEquals("beef", session.handle("m1ffe,8")); // partial at the end of what is mapped
        assertEquals("E14", session.handle("m5000,4"));
        assertEquals("E01", session.handle("m100," + Integer.toHexString(GdbSession.MAX_MEMORY + 1)));
        assertEquals("E01", session.handle("M100,4:dead")); // length and data disagree
        assertEquals("E01", session.handle("m100"));
        assertEquals("E01", session.handle("mffffffffffffffffff,1"));
    }

    @Test
    void breakpointsGoToTheTargetAndRunOutAtFour() {
        for (int i = 0; i < 4; i++) {
            assertEquals("OK", session.handle("Z0," + Integer.toHexString(0x10000 + i) + ",1"));
        }
        assertEquals("E1c", session.handle("Z1,20000,1"));
        assertEquals("OK", session.handle("z0,10000,1"));
        assertEquals(List.of(0x10001L, 0x10002L, 0x10003L), target.breakpoints);
        assertEquals("", session.handle("Z2,100,8")); // watchpoints are not offered
        assertEquals("E01", session.handle("Z0,xyz,1"));
    }

    @Test
    void resumingAndStopReplies() {
        assertEquals("S05", session.handle("?"));
        assertSame(GdbSession.RESUMED, session.handle("c"));
        assertSame(GdbSession.RESUMED, session.handle("s"));
        assertSame(GdbSession.RESUMED, session.handle("vCont;s:1;c"));
        assertSame(GdbSession.RESUMED, session.handle("vCont;c"));
        assertEquals(List.of("continue", "step", "step", "continue"), target.calls);
        assertEquals("vCont;c;C;s;S", session.handle("vCont?"));
        assertSame(GdbSession.RESUMED, session.handle("c10200"));
        assertEquals(0x10200, target.regs.rip);
        assertEquals("W29", GdbSession.stopReply(new DebugTarget.Exited(41)));
        assertEquals("S02", GdbSession.stopReply(new DebugTarget.Stopped(DebugTarget.SIGINT)));
    }

    @Test
    void queriesAndTheTargetDescription() {
        assertTrue(session.handle("qSupported:multiprocess+;xmlRegisters=i386").contains("qXfer:features:read+"));
        assertEquals("1", session.handle("qAttached"));
        String xml = session.handle("qXfer:features:read:target.xml:0,ffb");
        assertEquals("l" + GdbSession.TARGET_XML, xml);
        assertEquals("m<?xm", session.handle("qXfer:features:read:target.xml:0,4"));
        assertEquals("", session.handle("qTStatus"));
        assertEquals("", session.handle("vMustReplyEmpty"));
        assertEquals(GdbSession.CLOSE_PREFIX + "OK", session.handle("D"));
        assertEquals("detach", target.calls.getLast());
    }

    @Test
    void malformedPacketsGetRepliesNotExceptions() {
        Random random = new Random(193);
        String alphabet = "gGpPmMcsCSzZqvHTD?,:;=0123456789abcdefxyz-";
        for (int i = 0; i < 20_000; i++) {
            StringBuilder sb = new StringBuilder();
            int len = random.nextInt(40);
            for (int j = 0; j < len; j++) {
                sb.append(alphabet.charAt(random.nextInt(alphabet.length())));
            }
            if (sb.toString().startsWith("k") || sb.toString().startsWith("vKill")) {
                continue;
            }
            assertNotNull(session.handle(sb.toString()), sb.toString());
        }
    }
}
