package vessel.gdb;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PacketReaderTest {
    private static List<PacketReader.Event> feed(PacketReader r, byte[] bytes) {
        List<PacketReader.Event> out = new ArrayList<>();
        for (byte b : bytes) {
            PacketReader.Event e = r.feed(b);
            if (e != null) {
                out.add(e);
            }
        }
        return out;
    }

    private static List<PacketReader.Event> feed(String s) {
        return feed(new PacketReader(), s.getBytes(StandardCharsets.ISO_8859_1));
    }

    @Test
    void aPacketWithItsChecksumAndTheAcks() {
        assertEquals(List.of(new PacketReader.Ack(), new PacketReader.Packet("g"), new PacketReader.Nack()), feed("+$g#67-"));
        assertEquals(List.of(new PacketReader.Packet("qSupported:xmlRegisters=i386")),
                feed("$qSupported:xmlRegisters=i386#" + String.format("%02x", sum("qSupported:xmlRegisters=i386"))));
    }

    @Test
    void aBadChecksumIsReportedNotDelivered() {
        assertEquals(List.of(new PacketReader.BadPacket("bad checksum")), feed("$g#00"));
        assertInstanceOf(PacketReader.BadPacket.class, feed("$g#zz").getFirst());
    }

    @Test
    void ctrlCOutsideAPacketIsAnInterrupt() {
        assertEquals(List.of(new PacketReader.Interrupt()), feed("\u0003"));
    }

    @Test
    void escapesAreUndoneAndTheChecksumCoversTheWireBytes() {
        byte[] wire = PacketReader.encode("a}b#c$d*");
        assertEquals(List.of(new PacketReader.Packet("a}b#c$d*")), feed(new PacketReader(), wire));
    }

    @Test
    void anOverlongPacketIsRejectedAndTheNextOneIsRead() {
        String big = "M" + "0".repeat(PacketReader.MAX_PAYLOAD + 10);
        List<PacketReader.Event> e = feed("$" + big + "#" + String.format("%02x", sum(big)) + "$g#67");
        assertEquals(List.of(new PacketReader.BadPacket("packet longer than 4096 bytes"), new PacketReader.Packet("g")), e);
    }

    @Test
    void aNewDollarRestartsAnUnfinishedPacket() {
        assertEquals(List.of(new PacketReader.Packet("g")), feed("$garbage$g#67"));
    }

    @Test
    void randomBytesNeverThrowAndPacketsStayBounded() {
        Random random = new Random(19_3);
        PacketReader r = new PacketReader();
        byte[] noise = new byte[200_000];
        random.nextBytes(noise);
        for (PacketReader.Event e : feed(r, noise)) {
            if (e instanceof PacketReader.Packet p) {
                assertTrue(p.payload().length() <= PacketReader.MAX_PAYLOAD);
            }
        }
        // and it still reads a good packet afterwards
        assertEquals(new PacketReader.Packet("?"), feed(r, "#00$?#3f".getBytes(StandardCharsets.ISO_8859_1)).getLast());
    }

    private static int sum(String s) {
        int sum = 0;
        for (char c : s.toCharArray()) {
            sum += c;
        }
        return sum & 0xff;
    }
}
