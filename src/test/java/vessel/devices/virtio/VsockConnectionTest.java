package vessel.devices.virtio;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A connection's credit arithmetic (virtio 1.x 5.10.6.3) and shutdown flags, without sockets. */
class VsockConnectionTest {
    private static VsockConnection established() {
        VsockConnection c = new VsockConnection(null, VsockConnection.State.ESTABLISHED);
        c.localPort = 1 << 30;
        c.peerPort = 5000;
        return c;
    }

    @Test
    void creditIsTheGuestsBufferLessWhatIsInFlight() {
        VsockConnection c = established();
        assertEquals(0, c.credit()); // nothing heard from the guest yet
        c.peerCredit(4096, 0);
        assertEquals(4096, c.credit());
        c.sentToGuest(1000);
        assertEquals(3096, c.credit());
        c.peerCredit(4096, 1000); // the guest read it all
        assertEquals(4096, c.credit());
        c.sentToGuest(5000); // more than allowed (a bug elsewhere): never negative
        assertEquals(0, c.credit());
    }

    @Test
    void countersWrapAt32BitsAsOnTheWire() {
        VsockConnection c = established();
        c.txCnt = -100; // 2^32 - 100 sent so far
        c.peerCredit(4096, -100);
        c.sentToGuest(300); // txCnt wraps past 2^32
        assertEquals(4096 - 300, c.credit());
        c.peerCredit(-1, 200); // a buf_alloc of 2^32 - 1 is unsigned, not -1
        assertEquals(0xFFFF_FFFFL, c.credit());
    }

    @Test
    void aCreditUpdateIsDueOnceHalfTheBufferWasForwardedSinceTheGuestLastHeard() {
        VsockConnection c = established();
        assertFalse(c.forwarded(100, 1000));
        assertFalse(c.forwarded(399, 1000));
        assertTrue(c.forwarded(1, 1000));
        assertEquals(500, c.advertiseFwdCnt());
        assertFalse(c.forwarded(499, 1000)); // counted from what was advertised
        assertTrue(c.forwarded(1, 1000));
    }

    @Test
    void shutdownFlagsAccumulate() {
        VsockConnection c = established();
        assertFalse(c.guestStoppedSending() || c.guestStoppedReceiving() || c.guestClosed());
        c.guestShutdown |= VsockHeader.SHUTDOWN_SEND;
        assertTrue(c.guestStoppedSending());
        assertFalse(c.guestClosed());
        c.guestShutdown |= VsockHeader.SHUTDOWN_RCV;
        assertTrue(c.guestStoppedReceiving() && c.guestClosed());
    }

    @Test
    void keysTellPortPairsApart() {
        assertEquals(VsockConnection.key(1 << 30, 5000), established().key());
        assertNotEquals(VsockConnection.key(1, 2), VsockConnection.key(2, 1));
        assertEquals(0xFFFF_FFFF_0000_0001L, VsockConnection.key(-1, 1));
    }
}
