package vessel.devices.mmds;

import java.security.SecureRandom;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;

/**
 * The MMDS end of one virtio-net interface: the guest's frames to the MMDS IPv4 address come here instead
 * of the TAP, and the frames this stack makes go to the guest ahead of the TAP's. It answers ARP requests
 * for the address, and speaks as much TCP over IPv4 as HTTP/1.1 needs, as Firecracker's "dumbo" stack does:
 * a listener on port 80, SYN/ACK with an MSS option, in-order data only, FIN and RST; no window scaling,
 * no options beyond MSS, no IP fragments.
 *
 * <p>Frames carry the 12-byte virtio_net_hdr first, as everything between {@code VirtioNet} and its
 * backend. A guest frame is checked field by field (lengths against the frame, IPv4 and TCP checksums,
 * unless the header's NEEDS_CSUM flag says the guest left the TCP checksum to the device) and dropped,
 * counted, when anything is off. Memory is bounded: at most {@link #MAX_CONNECTIONS} connections, each
 * with a {@link #RECEIVE_BUFFER}-byte receive buffer (the window it advertises) and at most one answer
 * waiting to be sent (the next request is read only when the last answer is acknowledged), plus at most
 * {@link #MAX_CONTROL_FRAMES} ARP replies and resets waiting. A connection idle for
 * {@link #IDLE_TIMEOUT_NANOS} is dropped when room is needed or when it is next looked at.
 *
 * <p>Segments are made when the device asks for a frame ({@link #nextFrame}), not queued: a connection
 * sends what the guest's window allows, so nothing is dropped on the way to the guest and no
 * retransmission timer is needed (the guest's own TCP retransmits what it sent; a duplicate is
 * answered with an ACK). Thread-safe: the methods synchronize (uncontended: the device calls them under
 * its own lock), except {@link #hasFrames}, a volatile read for the receive path's one check per frame.
 */
public final class MmdsStack {
    /** The MMDS's own MAC address, Firecracker's. */
    public static final byte[] MAC = {0x06, 0x01, 0x23, 0x45, 0x67, 0x01};
    /** The virtio_net_hdr every frame starts with. */
    public static final int VNET_HDR = 12;
    static final int ETH = 14;
    static final int ARP_LEN = 28;
    static final int IP_MIN = 20;
    static final int TCP_MIN = 20;
    static final int PORT = 80;
    public static final int MAX_CONNECTIONS = 30;
    public static final int RECEIVE_BUFFER = 4096;
    static final int MAX_CONTROL_FRAMES = 32;
    /** Our segments' size when the guest gives no MSS (RFC 9293's default), and at most (a 1500-byte MTU). */
    static final int DEFAULT_MSS = 536;
    static final int MAX_MSS = 1460;
    public static final long IDLE_TIMEOUT_NANOS = 30_000_000_000L;
    /** The largest frame this stack makes: header, Ethernet, IPv4, TCP with MSS option, one segment. */
    public static final int MAX_FRAME_OUT = VNET_HDR + ETH + IP_MIN + TCP_MIN + 4 + MAX_MSS;

    static final int FIN = 0x01;
    static final int SYN = 0x02;
    static final int RST = 0x04;
    static final int PSH = 0x08;
    static final int ACK = 0x10;
    private static final int VNET_F_NEEDS_CSUM = 1;

    /** Why guest frames were dropped, counted. */
    public enum Drop { MALFORMED, BAD_CHECKSUM, NOT_TCP, FRAGMENT, NO_ROOM }

    private enum State { SYN_RECEIVED, ESTABLISHED }

    /** One TCP connection from the guest to port 80. */
    private static final class Connection {
        final int guestIp;
        final int guestPort;
        final byte[] guestMac = new byte[6];
        State state = State.SYN_RECEIVED;
        final int isn;
        int sndUna;
        int sndNxt;
        int rcvNxt;
        int guestWindow;
        int mss;
        final byte[] recv = new byte[RECEIVE_BUFFER];
        int recvLen;
        /** Bytes from sequence number sndUna on: sent and unacknowledged, then unsent. */
        byte[] send = new byte[0];
        int sendLen;
        boolean synAckDue;
        boolean ackDue;
        boolean guestFin;
        boolean finQueued;
        boolean finSent;
        boolean finAcked;
        long lastActive;

        Connection(int guestIp, int guestPort, int isn) {
            this.guestIp = guestIp;
            this.guestPort = guestPort;
            this.isn = isn;
        }

        boolean done() {
            return finAcked && guestFin && !ackDue;
        }
    }

    private final MmdsStore store;
    private final int address;
    private final LongSupplier clockNanos;
    private final IntSupplier initialSequence;
    private final List<Connection> connections = new ArrayList<>();
    private final ArrayDeque<byte[]> control = new ArrayDeque<>();
    private final long[] drops = new long[Drop.values().length];
    private int nextConnection;
    private int ipId;
    /** Whether {@link #nextFrame} may have something: read without the lock by the receive path. */
    private volatile boolean pending;

    /** A stack answering for IPv4 {@code address} (host order, e.g. 0xA9FEA9FE) from {@code store}. */
    public MmdsStack(MmdsStore store, int address) {
        this(store, address, System::nanoTime, new SecureRandom()::nextInt);
    }

    /** With the clock idle connections expire by and the source of initial sequence numbers (tests fix both). */
    MmdsStack(MmdsStore store, int address, LongSupplier clockNanos, IntSupplier initialSequence) {
        this.store = store;
        this.address = address;
        this.clockNanos = clockNanos;
        this.initialSequence = initialSequence;
    }

    public int address() {
        return address;
    }

    /**
     * Whether {@code frame[0, len)} (virtio_net_hdr first) is for the MMDS: an ARP packet asking about its
     * address or an IPv4 packet to it. The one test every transmitted frame goes through; it reads five
     * fields and allocates nothing.
     */
    public boolean isForMmds(byte[] frame, int len) {
        if (len < VNET_HDR + ETH + IP_MIN) {
            return false;
        }
        int type = u16(frame, VNET_HDR + 12);
        if (type == 0x0800) {
            return i32(frame, VNET_HDR + ETH + 16) == address;
        }
        return type == 0x0806 && len >= VNET_HDR + ETH + ARP_LEN && i32(frame, VNET_HDR + ETH + 24) == address;
    }

    /** Whether frames wait for the guest (cheap, for the receive path). */
    public boolean hasFrames() {
        return pending;
    }

    public synchronized long drops(Drop why) {
        return drops[why.ordinal()];
    }

    public synchronized int connectionCount() {
        return connections.size();
    }

    /** Takes a guest frame that {@link #isForMmds} accepted; what it calls for comes out of {@link #nextFrame}. */
    public synchronized void receive(byte[] f, int len) {
        if (len < VNET_HDR + ETH || len > f.length) {
            drop(Drop.MALFORMED);
            return;
        }
        int type = u16(f, VNET_HDR + 12);
        if (type == 0x0806) {
            receiveArp(f, len);
        } else if (type == 0x0800) {
            receiveIpv4(f, len);
        } else {
            drop(Drop.MALFORMED);
        }
        connections.removeIf(Connection::done);
        updatePending();
    }

    /**
     * Writes the next frame for the guest into {@code dst} (virtio_net_hdr first, all zero) and returns
     * its length, or 0 when there is none.
     */
    public synchronized int nextFrame(byte[] dst) {
        if (dst.length < MAX_FRAME_OUT) {
            throw new IllegalArgumentException("a frame buffer of " + dst.length + " bytes is too small");
        }
        try {
            byte[] c = control.poll();
            if (c != null) {
                System.arraycopy(c, 0, dst, 0, c.length);
                return c.length;
            }
            long now = clockNanos.getAsLong();
            connections.removeIf(conn -> conn.done() || now - conn.lastActive > IDLE_TIMEOUT_NANOS);
            int n = connections.size();
            for (int i = 0; i < n; i++) {
                int at = (nextConnection + i) % n;
                int written = segment(connections.get(at), dst);
                if (written > 0) {
                    nextConnection = (at + 1) % n; // the next call starts with the next connection
                    return written;
                }
            }
            return 0;
        } finally {
            updatePending();
        }
    }

    // ---- ARP ----

    private void receiveArp(byte[] f, int len) {
        int a = VNET_HDR + ETH;
        if (len < a + ARP_LEN || u16(f, a) != 1 || u16(f, a + 2) != 0x0800 || (f[a + 4] & 0xFF) != 6
                || (f[a + 5] & 0xFF) != 4) {
            drop(Drop.MALFORMED);
            return;
        }
        if (u16(f, a + 6) != 1 || i32(f, a + 24) != address) {
            return; // not a request for our address: nothing to answer
        }
        byte[] r = new byte[VNET_HDR + ETH + ARP_LEN];
        System.arraycopy(f, a + 8, r, VNET_HDR, 6); // to the requester's hardware address
        System.arraycopy(MAC, 0, r, VNET_HDR + 6, 6);
        put16(r, VNET_HDR + 12, 0x0806);
        put16(r, a, 1);
        put16(r, a + 2, 0x0800);
        r[a + 4] = 6;
        r[a + 5] = 4;
        put16(r, a + 6, 2);
        System.arraycopy(MAC, 0, r, a + 8, 6);
        put32(r, a + 14, address);
        System.arraycopy(f, a + 8, r, a + 18, 10); // target: the requester's MAC and IPv4 address
        queueControl(r);
    }

    // ---- IPv4 and TCP ----

    private void receiveIpv4(byte[] f, int len) {
        int ip = VNET_HDR + ETH;
        if (len < ip + IP_MIN) {
            drop(Drop.MALFORMED);
            return;
        }
        int vihl = f[ip] & 0xFF;
        int ihl = (vihl & 0x0F) * 4;
        int total = u16(f, ip + 2);
        if ((vihl >>> 4) != 4 || ihl < IP_MIN || total < ihl || ip + total > len) {
            drop(Drop.MALFORMED);
            return;
        }
        if (checksum(f, ip, ihl, 0) != 0) {
            drop(Drop.BAD_CHECKSUM);
            return;
        }
        if ((u16(f, ip + 6) & 0x3FFF) != 0) { // MF or a fragment offset
            drop(Drop.FRAGMENT);
            return;
        }
        if ((f[ip + 9] & 0xFF) != 6) {
            drop(Drop.NOT_TCP);
            return;
        }
        int src = i32(f, ip + 12);
        int t = ip + ihl;
        int tcpLen = total - ihl;
        if (tcpLen < TCP_MIN) {
            drop(Drop.MALFORMED);
            return;
        }
        int dataOff = ((f[t + 12] & 0xFF) >>> 4) * 4;
        if (dataOff < TCP_MIN || dataOff > tcpLen) {
            drop(Drop.MALFORMED);
            return;
        }
        boolean needsCsum = (f[0] & VNET_F_NEEDS_CSUM) != 0;
        if (!needsCsum && checksum(f, t, tcpLen, pseudoHeader(src, address, tcpLen)) != 0) {
            drop(Drop.BAD_CHECKSUM);
            return;
        }
        int srcPort = u16(f, t);
        int dstPort = u16(f, t + 2);
        int seq = i32(f, t + 4);
        int ack = i32(f, t + 8);
        int flags = f[t + 13] & 0x3F;
        int window = u16(f, t + 14);
        int data = t + dataOff;
        int dataLen = tcpLen - dataOff;
        Connection conn = find(src, srcPort);
        if (dstPort != PORT || conn == null) {
            if (dstPort == PORT && (flags & (SYN | ACK | RST | FIN)) == SYN) {
                accept(f, src, srcPort, seq, window, t, dataOff);
            } else if ((flags & RST) == 0) {
                reset(f, src, srcPort, dstPort, seq, ack, flags, dataLen);
            }
            return;
        }
        conn.lastActive = clockNanos.getAsLong();
        if ((flags & RST) != 0) {
            if (seq == conn.rcvNxt) {
                connections.remove(conn);
            }
            return;
        }
        if ((flags & SYN) != 0) {
            if (conn.state == State.SYN_RECEIVED && seq == conn.rcvNxt - 1) {
                conn.synAckDue = true; // our SYN/ACK was not seen: again
            } else {
                conn.ackDue = true; // RFC 5961's challenge ACK
            }
            return;
        }
        if ((flags & ACK) == 0) {
            return;
        }
        if (!acknowledge(conn, ack)) {
            return;
        }
        conn.guestWindow = window;
        if (dataLen > 0 || (flags & FIN) != 0) {
            conn.ackDue = true;
            if (conn.state != State.ESTABLISHED || conn.guestFin || seq != conn.rcvNxt) {
                serve(conn);
                return; // out of order or a duplicate: the ACK tells the guest where we are
            }
            int take = Math.min(dataLen, RECEIVE_BUFFER - conn.recvLen);
            System.arraycopy(f, data, conn.recv, conn.recvLen, take);
            conn.recvLen += take;
            conn.rcvNxt += take;
            if ((flags & FIN) != 0 && take == dataLen) {
                conn.guestFin = true;
                conn.rcvNxt += 1;
            }
        }
        serve(conn);
    }

    /** Processes the guest's ACK number; false when the segment is to be ignored. */
    private boolean acknowledge(Connection conn, int ack) {
        if (conn.state == State.SYN_RECEIVED) {
            if (ack != conn.isn + 1) {
                conn.synAckDue = true;
                return false;
            }
            conn.state = State.ESTABLISHED;
            conn.sndUna = ack;
            return true;
        }
        if (ack - conn.sndUna < 0) {
            return true; // an old ACK; its data may still be new
        }
        if (ack - conn.sndNxt > 0) {
            conn.ackDue = true; // acknowledges what we never sent
            return false;
        }
        int acked = ack - conn.sndUna;
        int dataAcked = Math.min(acked, conn.sendLen);
        System.arraycopy(conn.send, dataAcked, conn.send, 0, conn.sendLen - dataAcked);
        conn.sendLen -= dataAcked;
        conn.sndUna = ack;
        if (conn.finSent && ack == conn.sndNxt) {
            conn.finAcked = true;
        }
        return true;
    }

    /** Answers the next complete request, once the previous answer has been acknowledged. */
    private void serve(Connection conn) {
        while (conn.sendLen == 0 && !conn.finQueued && conn.state == State.ESTABLISHED) {
            if (conn.recvLen == 0) {
                if (conn.guestFin) {
                    conn.finQueued = true;
                }
                return;
            }
            byte[] answer;
            int used;
            boolean close;
            switch (MmdsHttp.parse(conn.recv, conn.recvLen, conn.recvLen == RECEIVE_BUFFER)) {
                case MmdsHttp.Parsed.Complete c -> {
                    answer = MmdsHttp.respond(c.request(), store);
                    used = c.request().length();
                    close = c.request().close();
                }
                case MmdsHttp.Parsed.Malformed m -> {
                    answer = MmdsHttp.badRequest(m.message());
                    used = conn.recvLen;
                    close = true;
                }
                case MmdsHttp.Parsed.Incomplete i -> {
                    if (conn.guestFin) {
                        conn.recvLen = 0;
                        conn.finQueued = true; // the rest will never come
                    }
                    return;
                }
            }
            System.arraycopy(conn.recv, used, conn.recv, 0, conn.recvLen - used);
            conn.recvLen -= used;
            conn.send = answer;
            conn.sendLen = answer.length;
            if (close) {
                conn.finQueued = true;
                conn.recvLen = 0;
            }
        }
    }

    private void accept(byte[] f, int src, int srcPort, int seq, int window, int t, int dataOff) {
        long now = clockNanos.getAsLong();
        if (connections.size() >= MAX_CONNECTIONS) {
            connections.removeIf(c -> now - c.lastActive > IDLE_TIMEOUT_NANOS);
        }
        if (connections.size() >= MAX_CONNECTIONS) {
            drop(Drop.NO_ROOM);
            reset(f, src, srcPort, PORT, seq, 0, SYN, 0);
            return;
        }
        Connection c = new Connection(src, srcPort, initialSequence.getAsInt());
        System.arraycopy(f, VNET_HDR + 6, c.guestMac, 0, 6);
        c.rcvNxt = seq + 1;
        c.sndUna = c.isn;
        c.sndNxt = c.isn + 1;
        c.guestWindow = window;
        c.mss = Math.min(MAX_MSS, Math.max(64, mssOption(f, t + TCP_MIN, t + dataOff)));
        c.synAckDue = true;
        c.lastActive = now;
        connections.add(c);
    }

    /** The MSS option's value among the options in [from, to), or the default. Each step moves forward. */
    private static int mssOption(byte[] f, int from, int to) {
        int i = from;
        while (i < to) {
            int kind = f[i] & 0xFF;
            if (kind == 0) {
                break;
            }
            if (kind == 1) {
                i++;
                continue;
            }
            if (i + 1 >= to) {
                break;
            }
            int optLen = f[i + 1] & 0xFF;
            if (optLen < 2 || i + optLen > to) {
                break;
            }
            if (kind == 2 && optLen == 4) {
                return u16(f, i + 2);
            }
            i += optLen;
        }
        return DEFAULT_MSS;
    }

    /** RFC 9293's reset for a segment that belongs to no connection. */
    private void reset(byte[] f, int src, int srcPort, int dstPort, int seq, int ack, int flags, int dataLen) {
        byte[] r = new byte[VNET_HDR + ETH + IP_MIN + TCP_MIN];
        byte[] mac = new byte[6];
        System.arraycopy(f, VNET_HDR + 6, mac, 0, 6);
        if ((flags & ACK) != 0) {
            tcpFrame(r, mac, src, dstPort, srcPort, ack, 0, RST, 0, null, 0, 0, false);
        } else {
            int segLen = dataLen + ((flags & SYN) != 0 ? 1 : 0) + ((flags & FIN) != 0 ? 1 : 0);
            tcpFrame(r, mac, src, dstPort, srcPort, 0, seq + segLen, RST | ACK, 0, null, 0, 0, false);
        }
        queueControl(r);
    }

    /** What {@code c} sends next, if anything: the one rule both {@link #segment} and the pending flag follow. */
    private enum Next { NOTHING, SYN_ACK, DATA, FIN, ACK }

    private static Next next(Connection c) {
        if (c.synAckDue) {
            return Next.SYN_ACK;
        }
        if (c.state != State.ESTABLISHED) {
            return Next.NOTHING; // the handshake's last ACK has not come: nothing else goes out yet
        }
        int inFlight = c.sndNxt - c.sndUna;
        int unsent = c.finSent ? 0 : c.sendLen - inFlight;
        if (Math.min(Math.min(unsent, c.mss), c.guestWindow - inFlight) > 0) {
            return Next.DATA;
        }
        if (c.finQueued && !c.finSent && unsent == 0) {
            return Next.FIN;
        }
        return c.ackDue ? Next.ACK : Next.NOTHING;
    }

    /** The next segment {@code c} has to send, into {@code dst}; 0 when it has none. */
    private int segment(Connection c, byte[] dst) {
        int window = RECEIVE_BUFFER - c.recvLen;
        int inFlight = c.sndNxt - c.sndUna;
        switch (next(c)) {
            case SYN_ACK -> {
                c.synAckDue = false;
                return tcpFrame(dst, c.guestMac, c.guestIp, PORT, c.guestPort, c.isn, c.rcvNxt, SYN | ACK, window,
                        null, 0, 0, true);
            }
            case DATA -> {
                int n = Math.min(Math.min(c.sendLen - inFlight, c.mss), c.guestWindow - inFlight);
                c.ackDue = false;
                int len = tcpFrame(dst, c.guestMac, c.guestIp, PORT, c.guestPort, c.sndNxt, c.rcvNxt, PSH | ACK,
                        window, c.send, inFlight, n, false);
                c.sndNxt += n;
                return len;
            }
            case FIN -> {
                c.ackDue = false;
                c.finSent = true;
                int len = tcpFrame(dst, c.guestMac, c.guestIp, PORT, c.guestPort, c.sndNxt, c.rcvNxt, FIN | ACK,
                        window, null, 0, 0, false);
                c.sndNxt += 1;
                return len;
            }
            case ACK -> {
                c.ackDue = false;
                return tcpFrame(dst, c.guestMac, c.guestIp, PORT, c.guestPort, c.sndNxt, c.rcvNxt, ACK, window,
                        null, 0, 0, false);
            }
            case NOTHING -> {
                return 0;
            }
        }
        return 0;
    }

    /** Writes a whole frame (zero virtio_net_hdr, Ethernet, IPv4, TCP, payload) and returns its length. */
    private int tcpFrame(byte[] d, byte[] toMac, int toIp, int fromPort, int toPort, int seq, int ack, int flags,
                         int window, byte[] payload, int payloadOff, int payloadLen, boolean mssOption) {
        java.util.Arrays.fill(d, 0, VNET_HDR, (byte) 0);
        System.arraycopy(toMac, 0, d, VNET_HDR, 6);
        System.arraycopy(MAC, 0, d, VNET_HDR + 6, 6);
        put16(d, VNET_HDR + 12, 0x0800);
        int ip = VNET_HDR + ETH;
        int tcpLen = TCP_MIN + (mssOption ? 4 : 0) + payloadLen;
        d[ip] = 0x45;
        d[ip + 1] = 0;
        put16(d, ip + 2, IP_MIN + tcpLen);
        put16(d, ip + 4, ipId++ & 0xFFFF);
        put16(d, ip + 6, 0x4000); // don't fragment
        d[ip + 8] = 64;
        d[ip + 9] = 6;
        put16(d, ip + 10, 0);
        put32(d, ip + 12, address);
        put32(d, ip + 16, toIp);
        put16(d, ip + 10, checksum(d, ip, IP_MIN, 0));
        int t = ip + IP_MIN;
        put16(d, t, fromPort);
        put16(d, t + 2, toPort);
        put32(d, t + 4, seq);
        put32(d, t + 8, ack);
        d[t + 12] = (byte) ((mssOption ? 6 : 5) << 4);
        d[t + 13] = (byte) flags;
        put16(d, t + 14, Math.min(window, 0xFFFF));
        put16(d, t + 16, 0);
        put16(d, t + 18, 0);
        int p = t + TCP_MIN;
        if (mssOption) {
            d[p] = 2;
            d[p + 1] = 4;
            put16(d, p + 2, MAX_MSS);
            p += 4;
        }
        if (payloadLen > 0) {
            System.arraycopy(payload, payloadOff, d, p, payloadLen);
        }
        put16(d, t + 16, checksum(d, t, tcpLen, pseudoHeader(address, toIp, tcpLen)));
        return t + tcpLen;
    }

    private Connection find(int ip, int port) {
        for (Connection c : connections) {
            if (c.guestIp == ip && c.guestPort == port) {
                return c;
            }
        }
        return null;
    }

    private void queueControl(byte[] frame) {
        if (control.size() >= MAX_CONTROL_FRAMES) {
            drop(Drop.NO_ROOM);
            return;
        }
        control.add(frame);
    }

    private void drop(Drop why) {
        drops[why.ordinal()]++;
    }

    /**
     * Sets the flag the receive path polls: exactly when {@link #nextFrame} would give a frame, so that a
     * connection waiting on the guest's window never makes the device's thread spin.
     */
    private void updatePending() {
        boolean any = !control.isEmpty();
        for (int i = 0; !any && i < connections.size(); i++) {
            any = next(connections.get(i)) != Next.NOTHING;
        }
        pending = any;
    }

    // ---- checksums and byte order ----

    static int pseudoHeader(int src, int dst, int tcpLen) {
        return (src >>> 16) + (src & 0xFFFF) + (dst >>> 16) + (dst & 0xFFFF) + 6 + tcpLen;
    }

    /** The Internet checksum (RFC 1071) of {@code b[off, off+len)} plus {@code initial}; 0 over a valid one. */
    static int checksum(byte[] b, int off, int len, int initial) {
        long sum = initial & 0xFFFFFFFFL;
        int i = off;
        int end = off + len;
        for (; i + 1 < end; i += 2) {
            sum += ((b[i] & 0xFF) << 8) | (b[i + 1] & 0xFF);
        }
        if (i < end) {
            sum += (b[i] & 0xFF) << 8;
        }
        while ((sum >>> 16) != 0) {
            sum = (sum & 0xFFFF) + (sum >>> 16);
        }
        return (int) (~sum & 0xFFFF);
    }

    static int u16(byte[] b, int at) {
        return ((b[at] & 0xFF) << 8) | (b[at + 1] & 0xFF);
    }

    static int i32(byte[] b, int at) {
        return ((b[at] & 0xFF) << 24) | ((b[at + 1] & 0xFF) << 16) | ((b[at + 2] & 0xFF) << 8) | (b[at + 3] & 0xFF);
    }

    static void put16(byte[] b, int at, int v) {
        b[at] = (byte) (v >>> 8);
        b[at + 1] = (byte) v;
    }

    static void put32(byte[] b, int at, int v) {
        b[at] = (byte) (v >>> 24);
        b[at + 1] = (byte) (v >>> 16);
        b[at + 2] = (byte) (v >>> 8);
        b[at + 3] = (byte) v;
    }
}
