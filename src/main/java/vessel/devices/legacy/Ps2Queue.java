package vessel.devices.legacy;

/**
 * A PS/2 device's output bytes, bounded. A sequence (a key's scancodes, a mouse packet) goes in whole or
 * not at all, so the guest never reads half of one; input events leave {@code reserve} bytes free, so a
 * command's reply always fits.
 */
final class Ps2Queue {
    private final byte[] bytes;
    private final int reserve;
    private int head;
    private int count;

    Ps2Queue(int capacity, int reserve) {
        this.bytes = new byte[capacity];
        this.reserve = reserve;
    }

    /** Adds an input event's bytes if they fit below the reserve; false (nothing added) otherwise. */
    boolean offerEvent(byte[] sequence) {
        return offer(sequence, bytes.length - reserve);
    }

    /** Adds a command's reply; false (nothing added) if even the reserve cannot take it. */
    boolean offerReply(int... reply) {
        byte[] b = new byte[reply.length];
        for (int i = 0; i < reply.length; i++) {
            b[i] = (byte) reply[i];
        }
        return offer(b, bytes.length);
    }

    private boolean offer(byte[] sequence, int limit) {
        if (sequence.length == 0 || count + sequence.length > limit) {
            return false;
        }
        for (byte b : sequence) {
            bytes[(head + count) % bytes.length] = b;
            count++;
        }
        return true;
    }

    boolean isEmpty() {
        return count == 0;
    }

    int size() {
        return count;
    }

    /** The oldest byte, removed; -1 if none. */
    int poll() {
        if (count == 0) {
            return -1;
        }
        int v = bytes[head] & 0xff;
        head = (head + 1) % bytes.length;
        count--;
        return v;
    }

    /** The queued bytes, oldest first, left in place (for a snapshot). */
    int[] toArray() {
        int[] out = new int[count];
        for (int i = 0; i < count; i++) {
            out[i] = bytes[(head + i) % bytes.length] & 0xff;
        }
        return out;
    }

    void clear() {
        head = 0;
        count = 0;
    }
}
