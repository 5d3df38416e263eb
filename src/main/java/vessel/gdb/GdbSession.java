package vessel.gdb;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;

import vessel.kvm.Regs;

/**
 * One GDB connection: the commands of the remote serial protocol an all-stop x86-64 stub needs, over a
 * {@link DebugTarget}. {@link #handle} is the whole command set and never throws: a malformed packet or
 * a failed access gets an {@code Exx} reply, an unknown packet the empty one.
 */
final class GdbSession {
    private static final System.Logger LOG = System.getLogger("vessel.gdb");
    /** The largest memory transfer per packet: its hex must fit in a packet. */
    static final int MAX_MEMORY = PacketReader.MAX_PAYLOAD / 2 - 16;
    /** Tells GDB the architecture; it then uses its own x86-64 register description. */
    static final String TARGET_XML = "<?xml version=\"1.0\"?><!DOCTYPE target SYSTEM \"gdb-target.dtd\">"
            + "<target><architecture>i386:x86-64</architecture></target>";
    /** What {@link #handle} returns when the target now runs: the reply is the next stop. */
    static final String RESUMED = new String("resumed");
    /** What {@link #handle} returns after D or k: reply with the text after it, then close. */
    static final String CLOSE_PREFIX = "\u0000close:";

    private final DebugTarget target;
    private DebugTarget.Event lastStop = new DebugTarget.Stopped(DebugTarget.SIGTRAP);

    GdbSession(DebugTarget target) {
        this.target = target;
    }

    static String stopReply(DebugTarget.Event e) {
        return switch (e) {
            case DebugTarget.Stopped s -> String.format("S%02x", s.signal() & 0xff);
            case DebugTarget.Exited x -> String.format("W%02x", x.status() & 0xff);
        };
    }

    void stopped(DebugTarget.Event e) {
        lastStop = e;
    }

    /** The reply to one packet's payload, {@link #RESUMED}, or {@link #CLOSE_PREFIX} + reply. */
    String handle(String p) {
        try {
            return command(p);
        } catch (IllegalStateException | IllegalArgumentException e) {
            return "E01"; // not stopped (the VM ended), or a bad vCPU
        } catch (Exception e) {
            LOG.log(System.Logger.Level.DEBUG, "gdb packet " + p + " failed", e);
            return "E14";
        }
    }

    private String command(String p) throws Exception {
        if (p.isEmpty()) {
            return "";
        }
        char c = p.charAt(0);
        String a = p.substring(1);
        switch (c) {
            case '?' -> {
                return stopReply(lastStop);
            }
            case 'g' -> {
                return GdbRegisters.all(target.registers(), target.segments());
            }
            case 'G' -> {
                Regs r = target.registers();
                if (!GdbRegisters.setAll(a, r, target.segments())) {
                    return "E01";
                }
                target.setRegisters(r);
                return "OK";
            }
            case 'p' -> {
                Long n = Hex.parseNumber(a);
                if (n == null || n < 0 || n >= GdbRegisters.COUNT) {
                    return "E01";
                }
                StringBuilder sb = new StringBuilder();
                Hex.appendLe(sb, GdbRegisters.value(n.intValue(), target.registers(), target.segments()),
                        GdbRegisters.size(n.intValue()));
                return sb.toString();
            }
            case 'P' -> {
                int eq = a.indexOf('=');
                Long n = eq < 0 ? null : Hex.parseNumber(a.substring(0, eq));
                if (n == null || n < 0 || n >= GdbRegisters.COUNT) {
                    return "E01";
                }
                int size = GdbRegisters.size(n.intValue());
                String hex = a.substring(eq + 1);
                Long v = hex.length() == 2 * size ? Hex.parseLe(hex, 0, size) : null;
                Regs r = target.registers();
                if (v == null || !GdbRegisters.set(n.intValue(), v, r)) {
                    return "E01";
                }
                target.setRegisters(r);
                return "OK";
            }
            case 'm' -> {
                long[] al = addressLength(a);
                if (al == null) {
                    return "E01";
                }
                byte[] data = target.readMemory(al[0], (int) al[1]);
                return data.length == 0 && al[1] > 0 ? "E14" : Hex.of(data);
            }
            case 'M' -> {
                int colon = a.indexOf(':');
                long[] al = colon < 0 ? null : addressLength(a.substring(0, colon));
                byte[] data = al == null ? null : Hex.bytes(a.substring(colon + 1));
                if (data == null || data.length != al[1]) {
                    return "E01";
                }
                target.writeMemory(al[0], data);
                return "OK";
            }
            case 'c', 's' -> {
                if (!a.isEmpty() && !setRip(a)) {
                    return "E01";
                }
                target.resume(c == 's');
                return RESUMED;
            }
            case 'C', 'S' -> {
                // The signal is GDB's to pass; a VM has nowhere to deliver it.
                int semi = a.indexOf(';');
                if (semi >= 0 && !setRip(a.substring(semi + 1))) {
                    return "E01";
                }
                target.resume(c == 'S');
                return RESUMED;
            }
            case 'Z', 'z' -> {
                return breakpoint(c == 'Z', a);
            }
            case 'H', 'T' -> {
                return "OK"; // one thread: every thread id names it
            }
            case 'D' -> {
                target.detach();
                return CLOSE_PREFIX + "OK";
            }
            case 'k' -> {
                target.kill();
                return CLOSE_PREFIX;
            }
            case 'q' -> {
                return query(a);
            }
            case 'v' -> {
                return vPacket(a);
            }
            default -> {
                return "";
            }
        }
    }

    private boolean setRip(String hex) throws Exception {
        Long addr = Hex.parseNumber(hex);
        if (addr == null) {
            return false;
        }
        Regs r = target.registers();
        r.rip = addr;
        target.setRegisters(r);
        return true;
    }

    /** "ADDR,LEN" with LEN at most {@link #MAX_MEMORY}; null if malformed. */
    private static long[] addressLength(String s) {
        int comma = s.indexOf(',');
        if (comma < 0) {
            return null;
        }
        Long addr = Hex.parseNumber(s.substring(0, comma));
        Long len = Hex.parseNumber(s.substring(comma + 1));
        if (addr == null || len == null || len < 0 || len > MAX_MEMORY) {
            return null;
        }
        return new long[] {addr, len};
    }

    /** Z0/Z1 (and z0/z1): software breakpoints are set as hardware ones, so guest memory stays as it is. */
    private String breakpoint(boolean insert, String a) {
        String[] f = a.split(",", -1);
        if (f.length < 3 || !(f[0].equals("0") || f[0].equals("1"))) {
            return ""; // watchpoints: not offered, GDB falls back to its own
        }
        Long addr = Hex.parseNumber(f[1]);
        if (addr == null || Hex.parseNumber(f[2].split(";", 2)[0]) == null) {
            return "E01";
        }
        if (insert) {
            return target.insertBreakpoint(addr) ? "OK" : "E1c"; // ENOSPC: the four debug registers are used
        }
        target.removeBreakpoint(addr);
        return "OK";
    }

    private String query(String a) {
        if (a.startsWith("Supported")) {
            return "PacketSize=" + Integer.toHexString(PacketReader.MAX_PAYLOAD) + ";qXfer:features:read+;vContSupported+";
        }
        if (a.equals("Attached")) {
            return "1"; // attached to an existing process: quitting GDB detaches rather than kills
        }
        if (a.equals("C")) {
            return "QC1";
        }
        if (a.equals("fThreadInfo")) {
            return "m1";
        }
        if (a.equals("sThreadInfo")) {
            return "l";
        }
        if (a.startsWith("Symbol")) {
            return "OK";
        }
        if (a.startsWith("Xfer:features:read:target.xml:")) {
            String[] ol = a.substring("Xfer:features:read:target.xml:".length()).split(",", -1);
            Long offset = ol.length == 2 ? Hex.parseNumber(ol[0]) : null;
            Long length = ol.length == 2 ? Hex.parseNumber(ol[1]) : null;
            if (offset == null || length == null || offset < 0 || length < 0) {
                return "E01";
            }
            int off = (int) Math.min(offset, TARGET_XML.length());
            // GDB asks for as much as its packet holds; the reply is bounded by the document anyway.
            int end = (int) Math.min(off + Math.min(length, PacketReader.MAX_PAYLOAD - 1L), TARGET_XML.length());
            return (end == TARGET_XML.length() ? "l" : "m") + TARGET_XML.substring(off, end);
        }
        return "";
    }

    private String vPacket(String a) throws Exception {
        if (a.equals("Cont?")) {
            return "vCont;c;C;s;S";
        }
        if (a.startsWith("Cont;")) {
            // All-stop with one thread: a step anywhere in the list means step, otherwise continue.
            boolean step = false;
            for (String action : a.substring(5).split(";")) {
                if (action.isEmpty() || "cCsS".indexOf(action.charAt(0)) < 0) {
                    return "E01";
                }
                step |= action.charAt(0) == 's' || action.charAt(0) == 'S';
            }
            target.resume(step);
            return RESUMED;
        }
        if (a.startsWith("Kill")) {
            target.kill();
            return CLOSE_PREFIX + "OK";
        }
        return "";
    }

    /** Serves one connection until it closes, D or k; the target runs on if the client just goes. */
    void serve(Socket socket) throws Exception {
        socket.setSoTimeout(20);
        InputStream in = socket.getInputStream();
        OutputStream out = socket.getOutputStream();
        PacketReader reader = new PacketReader();
        byte[] lastSent = null;
        boolean running = false;
        stopped(target.attach());
        while (true) {
            if (running) {
                DebugTarget.Event e = target.awaitEvent(20);
                if (e != null) {
                    running = false;
                    stopped(e);
                    lastSent = send(out, stopReply(e));
                }
            }
            int b;
            try {
                b = in.read();
            } catch (SocketTimeoutException timeout) {
                continue;
            }
            if (b < 0) {
                if (!(lastStop instanceof DebugTarget.Exited)) {
                    target.detach();
                }
                return;
            }
            switch (reader.feed(b)) {
                case null -> { }
                case PacketReader.Ack ack -> { }
                case PacketReader.Nack nack -> {
                    if (lastSent != null) {
                        out.write(lastSent);
                        out.flush();
                    }
                }
                case PacketReader.BadPacket bad -> {
                    LOG.log(System.Logger.Level.DEBUG, "gdb: " + bad.why());
                    out.write('-');
                    out.flush();
                }
                case PacketReader.Interrupt i -> {
                    if (running) {
                        target.interrupt();
                    }
                }
                case PacketReader.Packet packet -> {
                    out.write('+');
                    if (running) {
                        out.flush(); // all-stop: nothing but Ctrl-C is meaningful while it runs
                        continue;
                    }
                    String reply = handle(packet.payload());
                    if (reply == RESUMED) {
                        running = true;
                        out.flush();
                    } else if (reply.startsWith(CLOSE_PREFIX)) {
                        if (reply.length() > CLOSE_PREFIX.length()) {
                            send(out, reply.substring(CLOSE_PREFIX.length()));
                        }
                        out.flush();
                        return;
                    } else {
                        lastSent = send(out, reply);
                    }
                }
            }
        }
    }

    private static byte[] send(OutputStream out, String payload) throws IOException {
        byte[] wire = PacketReader.encode(payload);
        out.write(wire);
        out.flush();
        LOG.log(System.Logger.Level.TRACE, () -> "gdb <- " + new String(wire, StandardCharsets.ISO_8859_1));
        return wire;
    }
}
