package vessel.devices.virtio;

import java.util.Arrays;

/**
 * virtio-vsock's connections by (host port, guest port) ({@link VsockConnection#key}), looked up for every
 * packet without boxing a key: open addressing over a fixed table twice the connection cap, linear
 * probing, deletion by shifting the run back (no tombstones, so a lookup ends at the first empty slot).
 * Under the device's lock, like the rest of its state.
 */
final class VsockConnectionTable {
    private final long[] keys;
    private final VsockConnection[] values;
    private final int mask;
    private final int capacity;
    private int size;

    /** Room for {@code capacity} connections; {@link #put} beyond it is refused. */
    VsockConnectionTable(int capacity) {
        this.capacity = capacity;
        int slots = Integer.highestOneBit(Math.max(2, capacity) * 2 - 1) << 1;
        this.keys = new long[slots];
        this.values = new VsockConnection[slots];
        this.mask = slots - 1;
    }

    int size() {
        return size;
    }

    private int slot(long key) {
        long h = key * 0x9E37_79B9_7F4A_7C15L;
        return (int) (h ^ (h >>> 32)) & mask;
    }

    /** The connection under {@code key}, or null. */
    VsockConnection get(long key) {
        for (int i = slot(key), probes = 0; probes <= mask; i = (i + 1) & mask, probes++) {
            VsockConnection v = values[i];
            if (v == null) {
                return null;
            }
            if (keys[i] == key) {
                return v;
            }
        }
        return null;
    }

    boolean containsKey(long key) {
        return get(key) != null;
    }

    /**
     * Files {@code c} under {@code key}, replacing what was there.
     *
     * @throws IllegalStateException the table holds its capacity already (callers check the cap first)
     */
    void put(long key, VsockConnection c) {
        int i = slot(key);
        while (values[i] != null) {
            if (keys[i] == key) {
                values[i] = c;
                return;
            }
            i = (i + 1) & mask;
        }
        if (size == capacity) {
            throw new IllegalStateException("vsock connection table full (" + capacity + ")");
        }
        keys[i] = key;
        values[i] = c;
        size++;
    }

    /** Removes {@code key} if it maps to {@code c}. */
    void remove(long key, VsockConnection c) {
        int i = slot(key);
        while (values[i] != null) {
            if (keys[i] == key) {
                if (values[i] == c) {
                    delete(i);
                }
                return;
            }
            i = (i + 1) & mask;
        }
    }

    /** Empties slot {@code hole} and moves back the entries after it that probed past it. */
    private void delete(int hole) {
        values[hole] = null;
        size--;
        for (int i = (hole + 1) & mask; values[i] != null; i = (i + 1) & mask) {
            int home = slot(keys[i]);
            // Entry i may fill the hole unless its home lies cyclically in (hole, i].
            boolean stays = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
            if (!stays) {
                keys[hole] = keys[i];
                values[hole] = values[i];
                values[i] = null;
                hole = i;
            }
        }
    }

    /** Every connection, copied (callers drop them while going through). */
    VsockConnection[] values() {
        VsockConnection[] out = new VsockConnection[size];
        int n = 0;
        for (VsockConnection v : values) {
            if (v != null) {
                out[n++] = v;
            }
        }
        return Arrays.copyOf(out, n);
    }
}
