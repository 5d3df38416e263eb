package vessel.gdb;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Turns the bytes a GDB client sends into protocol events, one byte at a time, with no I/O of its own:
 * {@code $payload#xx} packets (checksum checked, {@code }} escapes undone), {@code +}/{@code -}
 * acknowledgements and the out-of-band 0x03 interrupt. A payload longer than {@link #MAX_PAYLOAD}
 * is dropped as bad; bytes outside a packet that mean nothing are ignored, as GDB's own stubs do.
 */
final class PacketReader {
    /** The largest payload accepted (and the PacketSize told to GDB). */
    static final int MAX_PAYLOAD = 4096;

    /** What one byte completed, if anything. */
    sealed interface Event {}

    /** A whole packet with a good checksum; its payload as text (binary bytes map to chars 0-255). */
    record Packet(String payload) implements Event {}

    /** A packet that must be answered with {@code -}: bad checksum or too long. */
    record BadPacket(String why) implements Event {}

    /** GDB's Ctrl-C (0x03 outside a packet). */
    record Interrupt() implements Event {}

    record Ack() implements Event {}

    record Nack() implements Event {}

    private enum State { IDLE, DATA, ESCAPE, CHECKSUM_HIGH, CHECKSUM_LOW }

    private State state = State.IDLE;
    private final ByteArrayOutputStream payload = new ByteArrayOutputStream();
    private int sum;
    private int checksum;
    private boolean overflow;

    /** Feeds one byte; returns the event it completes, or null. */
    Event feed(int b) {
        b &= 0xff;
        switch (state) {
            case IDLE -> {
                return switch (b) {
                    case '$' -> {
                        start();
                        yield null;
                    }
                    case 0x03 -> new Interrupt();
                    case '+' -> new Ack();
                    case '-' -> new Nack();
                    default -> null;
                };
            }
            case DATA, ESCAPE -> {
                if (state == State.DATA && b == '#') {
                    state = State.CHECKSUM_HIGH;
                    return null;
                }
                if (state == State.DATA && b == '$') {
                    start(); // GDB gave up on the previous packet and began again
                    return null;
                }
                sum += b;
                if (state == State.DATA && b == '}') {
                    state = State.ESCAPE;
                    return null;
                }
                append(state == State.ESCAPE ? b ^ 0x20 : b);
                state = State.DATA;
                return null;
            }
            case CHECKSUM_HIGH -> {
                int d = Character.digit(b, 16);
                if (d < 0) {
                    state = State.IDLE;
                    return new BadPacket("checksum is not hex");
                }
                checksum = d << 4;
                state = State.CHECKSUM_LOW;
                return null;
            }
            case CHECKSUM_LOW -> {
                state = State.IDLE;
                int d = Character.digit(b, 16);
                if (d < 0) {
                    return new BadPacket("checksum is not hex");
                }
                if (overflow) {
                    return new BadPacket("packet longer than " + MAX_PAYLOAD + " bytes");
                }
                if (((checksum | d) & 0xff) != (sum & 0xff)) {
                    return new BadPacket("bad checksum");
                }
                return new Packet(payload.toString(StandardCharsets.ISO_8859_1));
            }
        }
        return null;
    }

    private void start() {
        state = State.DATA;
        payload.reset();
        sum = 0;
        overflow = false;
    }

    private void append(int b) {
        if (payload.size() >= MAX_PAYLOAD) {
            overflow = true;
        } else {
            payload.write(b);
        }
    }

    /** The wire form of a reply: {@code $payload#xx}, with {@code $ # } *} escaped. */
    static byte[] encode(String payload) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(payload.length() + 4);
        out.write('$');
        int sum = 0;
        for (int i = 0; i < payload.length(); i++) {
            int c = payload.charAt(i) & 0xff;
            if (c == '$' || c == '#' || c == '}' || c == '*') {
                out.write('}');
                sum += '}';
                c ^= 0x20;
            }
            out.write(c);
            sum += c;
        }
        out.write('#');
        String cs = String.format("%02x", sum & 0xff);
        out.writeBytes(cs.getBytes(StandardCharsets.US_ASCII));
        return out.toByteArray();
    }
}
