package vessel.devices.virtio;

import java.lang.foreign.MemorySegment;

/**
 * One vsock stream between a guest port and a host Unix socket: where it is in its life and the credit
 * each side has given the other (virtio 1.x section 5.10.6.3). {@link VirtioVsock} drives it: packets
 * from the guest, readiness of the socket.
 *
 * <p>Credit: the guest may have at most {@code peerBufAlloc - (txCnt - peerFwdCnt)} bytes from the host
 * in flight; the host advertises {@link VirtioVsock#BUF_ALLOC} and counts in {@code fwdCnt} what it
 * passed on to the socket. Counters wrap at 2^32, as on the wire.
 */
final class VsockConnection {
    /** Where a connection is in its life. */
    enum State {
        /** A host client asked for a guest port (its CONNECT line); the guest's RESPONSE to our REQUEST is awaited. */
        CONNECTING_TO_GUEST,
        /** The guest asked for a host port; the connection to its socket is in progress. */
        CONNECTING_TO_HOST,
        ESTABLISHED
    }

    /** The host end ({@link VsockUnixMux}); set once the connect to it is under way. */
    VsockUnixMux.HostSocket<VsockConnection> socket;
    State state;
    int localPort;
    int peerPort;
    /** Bytes the host sent after its CONNECT line, for the guest once established. */
    byte[] early;
    /** Bytes from the guest the host socket has not taken yet, {@code [0, toHostLength)}; null until needed. */
    MemorySegment toHost;
    int toHostLength;
    int peerBufAlloc;
    int peerFwdCnt;
    int txCnt;
    int fwdCnt;
    /** The fwdCnt the guest last heard. */
    int reportedFwdCnt;
    boolean readable;
    boolean inReady;
    boolean hostEof;
    boolean creditUpdateQueued;
    /** SHUTDOWN flags the guest sent, or-ed. */
    int guestShutdown;
    boolean outputShut;

    VsockConnection(VsockUnixMux.HostSocket<VsockConnection> socket, State state) {
        this.socket = socket;
        this.state = state;
    }

    /** Connections are keyed by (host port, guest port). */
    static long key(int localPort, int peerPort) {
        return (Integer.toUnsignedLong(localPort) << 32) | Integer.toUnsignedLong(peerPort);
    }

    long key() {
        return key(localPort, peerPort);
    }

    /** The credit fields of a packet from the guest. */
    void peerCredit(int bufAlloc, int fwdCnt) {
        this.peerBufAlloc = bufAlloc;
        this.peerFwdCnt = fwdCnt;
    }

    /** How many more bytes the guest can take now: its buffer less what is in flight to it. */
    long credit() {
        long inFlight = (txCnt - peerFwdCnt) & 0xFFFF_FFFFL;
        return Math.max(0, Integer.toUnsignedLong(peerBufAlloc) - inFlight);
    }

    /** {@code n} bytes went to the guest. */
    void sentToGuest(int n) {
        txCnt += n;
    }

    /**
     * {@code n} bytes from the guest reached the host socket; true when the guest should hear of the
     * freed space now (half of {@code bufAlloc} since it last did), before it can run out.
     */
    boolean forwarded(int n, int bufAlloc) {
        fwdCnt += n;
        return fwdCnt - reportedFwdCnt >= bufAlloc / 2;
    }

    /** The fwdCnt for a header going to the guest, which from then on knows it. */
    int advertiseFwdCnt() {
        reportedFwdCnt = fwdCnt;
        return fwdCnt;
    }

    /** Bytes from the guest waiting for the host socket. */
    int pending() {
        return toHostLength;
    }

    /** The guest shut both directions: the connection is over once its data reached the host. */
    boolean guestClosed() {
        int both = VsockHeader.SHUTDOWN_RCV | VsockHeader.SHUTDOWN_SEND;
        return (guestShutdown & both) == both;
    }

    boolean guestStoppedSending() {
        return (guestShutdown & VsockHeader.SHUTDOWN_SEND) != 0;
    }

    boolean guestStoppedReceiving() {
        return (guestShutdown & VsockHeader.SHUTDOWN_RCV) != 0;
    }
}
