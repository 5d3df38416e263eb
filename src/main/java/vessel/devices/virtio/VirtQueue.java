package vessel.devices.virtio;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.function.IntFunction;

import vessel.memory.GuestMemory;

/**
 * A split virtqueue (virtio 1.x section 2.7), device side. The transport fills in the registers the driver
 * writes (size, the three ring addresses, ready) and calls {@link #activate} when the driver sets
 * DRIVER_OK; the device then {@link #pop}s descriptor chains, returns them with {@link #addUsed} and asks
 * {@link #needsNotification} whether to interrupt.
 *
 * <p>Every number in the rings comes from the guest and is checked before it is used: ring indices
 * against the queue size, descriptor indices against their table, every buffer against guest RAM. A
 * chain is copied out of guest memory as it is validated, so a driver that rewrites a descriptor while
 * the device works on it cannot move a buffer after the check. A broken ring gives a
 * {@link VirtQueueException}; the device then stops using the queue until the driver resets it.
 *
 * <p>Not thread-safe. The transport writes the registers and activates the queue; afterwards one device
 * thread at a time uses it, with the transport's lock or thread hand-off in between. The guest's vCPUs
 * run concurrently with that thread, which is what the acquire/release accesses to the ring indices
 * are for.
 */
public final class VirtQueue {
    /** The largest queue size virtio allows (Virtqueues: a power of 2, at most 32768). */
    public static final int MAX_QUEUE_SIZE = 32768;

    static final int DESC_SIZE = 16;
    static final int DESC_F_NEXT = 1;
    static final int DESC_F_WRITE = 2;
    static final int DESC_F_INDIRECT = 4;
    static final int AVAIL_F_NO_INTERRUPT = 1;
    /** The Virtqueue Descriptor Table, driver requirements: no chain longer than 2^32 bytes in total. */
    static final long MAX_CHAIN_BYTES = 1L << 32;

    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /**
     * The avail and used {@code idx} fields, aligned (activate checks the rings' alignment), so they can be
     * read with acquire and written with release ordering: the driver's descriptors must be visible before
     * we trust its idx, and our used elements before the driver sees ours.
     */
    private static final VarHandle RING_IDX = ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN).varHandle();

    private final int maxSize;

    // Registers, as the driver wrote them; checked by activate, not before.
    private int size;
    private long descTable;
    private long availRing;
    private long usedRing;
    private boolean ready;

    // State while active. activeSize is a copy of size taken at activation, so a late register write
    // cannot change the bounds the ring slices were made for.
    private GuestMemory memory;
    private MemorySegment desc;
    private MemorySegment avail;
    private MemorySegment used;
    private int activeSize;
    private boolean eventIdx;
    private boolean indirect;
    /** Ring indices are free-running 16-bit counters, kept in an int masked with 0xFFFF. */
    private int nextAvail;
    /** The avail idx last read from the guest: pop serves entries up to it before reading idx again. */
    private int availSnapshot;
    private int nextUsed;
    /** The used idx when needsNotification last ran: the "old" index of the event-idx rule. */
    private int signalledUsed;

    // Scratch for walking a chain, reused across pops; a chain gets exact-size copies.
    private long[] scratchAddresses = new long[8];
    private int[] scratchLengths = new int[8];

    public VirtQueue(int maxSize) {
        if (maxSize < 1 || maxSize > MAX_QUEUE_SIZE || Integer.bitCount(maxSize) != 1) {
            throw new IllegalArgumentException(
                    "queue max size " + maxSize + " is not a power of two up to " + MAX_QUEUE_SIZE);
        }
        this.maxSize = maxSize;
        reset();
    }

    public int maxSize() {
        return maxSize;
    }

    public int size() {
        return size;
    }

    public void size(int size) {
        this.size = size;
    }

    public long descTable() {
        return descTable;
    }

    public void descTable(long address) {
        this.descTable = address;
    }

    public long availRing() {
        return availRing;
    }

    public void availRing(long address) {
        this.availRing = address;
    }

    public long usedRing() {
        return usedRing;
    }

    public void usedRing(long address) {
        this.usedRing = address;
    }

    public boolean ready() {
        return ready;
    }

    public void ready(boolean ready) {
        this.ready = ready;
    }

    /** Back to the state after a device reset: size = max, addresses 0, not ready, indices 0, inactive. */
    public void reset() {
        size = maxSize;
        descTable = 0;
        availRing = 0;
        usedRing = 0;
        ready = false;
        memory = null;
        desc = null;
        avail = null;
        used = null;
        activeSize = 0;
        eventIdx = false;
        indirect = false;
        nextAvail = 0;
        availSnapshot = 0;
        nextUsed = 0;
        signalledUsed = 0;
    }

    /** Checks the registers and maps the rings, indices at 0 (see {@link #activate}). */
    private void map(GuestMemory memory, boolean eventIdx, boolean indirect) throws VirtQueueException {
        if (size < 1 || size > maxSize || Integer.bitCount(size) != 1) {
            throw new VirtQueueException("queue size " + size + " is not a power of two between 1 and " + maxSize);
        }
        checkAligned("descriptor table", descTable, 16);
        checkAligned("available ring", availRing, 2);
        checkAligned("used ring", usedRing, 4);
        int eventField = eventIdx ? 2 : 0;
        long descBytes = (long) DESC_SIZE * size;
        long availBytes = 4 + 2L * size + eventField;
        long usedBytes = 4 + 8L * size + eventField;
        checkInRam(memory, "descriptor table", descTable, descBytes);
        checkInRam(memory, "available ring", availRing, availBytes);
        checkInRam(memory, "used ring", usedRing, usedBytes);
        this.memory = memory;
        this.desc = memory.slice(descTable, descBytes);
        this.avail = memory.slice(availRing, availBytes);
        this.used = memory.slice(usedRing, usedBytes);
        this.activeSize = size;
        this.eventIdx = eventIdx;
        this.indirect = indirect;
        nextAvail = 0;
        availSnapshot = 0;
        nextUsed = 0;
        signalledUsed = 0;
    }

    /**
     * Checks the registers and starts serving the rings in {@code memory} with the negotiated
     * VIRTIO_F_EVENT_IDX and VIRTIO_F_INDIRECT_DESC. The size must be a power of two no larger than
     * {@link #maxSize()}, the tables aligned as section 2.7 says (descriptors 16, avail 2, used 4 bytes) and
     * wholly inside guest RAM, including the event-index fields when they exist.
     */
    public void activate(GuestMemory memory, boolean eventIdx, boolean indirect) throws VirtQueueException {
        map(memory, eventIdx, indirect);
        if (eventIdx) {
            // Ask for a notification on the very first buffer, whatever the ring memory held before.
            used.set(U16, 4 + 8L * activeSize, (short) 0);
        }
    }

    /**
     * A queue's registers and, when active, the device's side of its rings: all a snapshot needs, since
     * the rings themselves are in guest memory. Indices are 16-bit.
     */
    public record State(int size, long descTable, long availRing, long usedRing, boolean ready, boolean active,
                        boolean eventIdx, boolean indirect, int nextAvail, int nextUsed, int signalledUsed) {
        public State {
            for (int index : new int[] {nextAvail, nextUsed, signalledUsed}) {
                if (index < 0 || index > 0xFFFF) {
                    throw new IllegalArgumentException("ring index " + index + " is not 16-bit");
                }
            }
            if (active && !ready) {
                throw new IllegalArgumentException("an active queue the driver never enabled");
            }
        }
    }

    /** The queue as a snapshot keeps it (the VM is paused: no device thread is using it). */
    public State state() {
        boolean active = memory != null;
        return new State(active ? activeSize : size, descTable, availRing, usedRing, ready, active, eventIdx,
                indirect, nextAvail, nextUsed, signalledUsed);
    }

    /**
     * Puts a freshly reset queue in {@code state}: the registers, and for an active queue the rings mapped
     * in {@code memory} with every check {@link #activate} makes, and the indices where they were. Nothing
     * is written into guest memory: the rings there (and the avail_event last published) are the
     * snapshot's own. A ring the checks refuse is a {@link VirtQueueException}.
     */
    public void restore(State state, GuestMemory memory) throws VirtQueueException {
        reset();
        size = state.size();
        descTable = state.descTable();
        availRing = state.availRing();
        usedRing = state.usedRing();
        ready = state.ready();
        if (state.active()) {
            map(memory, state.eventIdx(), state.indirect());
            nextAvail = state.nextAvail();
            availSnapshot = state.nextAvail(); // idx is read again before the next pop
            nextUsed = state.nextUsed();
            signalledUsed = state.signalledUsed();
        }
    }

    private static void checkAligned(String what, long address, int alignment) throws VirtQueueException {
        if ((address & (alignment - 1)) != 0) {
            throw new VirtQueueException(
                    what + " at 0x" + Long.toHexString(address) + " is not " + alignment + "-byte aligned");
        }
    }

    private static void checkInRam(GuestMemory memory, String what, long address, long length) throws VirtQueueException {
        if (!memory.contains(address, length)) {
            throw new VirtQueueException(
                    what + " at 0x" + Long.toHexString(address) + " + " + length + " is outside guest RAM");
        }
    }

    /**
     * The next available descriptor chain, or null when the driver has made none available. Serves the
     * entries up to the avail idx it last read before reading idx again: at most the queue size per read,
     * since more pending entries than that is an error. There is no other cap on how many chains one
     * caller's loop gets: a driver that keeps adding must build and fill each request and gets a slot
     * back only when the device completes one, so it makes the device do its real work, never spin.
     *
     * <p>With VIRTIO_F_EVENT_IDX, finding the ring empty publishes avail_event (the next index the device
     * will read), so the driver notifies when it adds that entry, and reads idx once more: a driver that
     * added an entry just before it could see avail_event may not have notified.
     */
    public DescriptorChain pop() throws VirtQueueException {
        return pop(null);
    }

    /**
     * As {@link #pop()}, but the chain popped is {@code recycled.apply(head)} refilled when that is a chain
     * ({@link DescriptorChain#recyclable}) the device is done with, else a new one.
     */
    public DescriptorChain pop(IntFunction<DescriptorChain> recycled) throws VirtQueueException {
        requireActive();
        if (nextAvail == availSnapshot && !refreshAvail()) {
            return null;
        }
        int slot = nextAvail & (activeSize - 1);
        int head = avail.get(U16, 4 + 2L * slot) & 0xFFFF;
        if (head >= activeSize) {
            throw new VirtQueueException("available ring entry " + nextAvail + " names head " + head
                    + ", beyond the queue size " + activeSize);
        }
        nextAvail = (nextAvail + 1) & 0xFFFF;
        DescriptorChain reuse = recycled == null ? null : recycled.apply(head);
        return walk(head, reuse != null && reuse.memory() == memory ? reuse : null);
    }

    /**
     * Puts the chain {@link #pop} returned last back, to be popped (and walked, so checked, again) next:
     * a rate-limited device that may not serve it yet leaves it with the driver.
     */
    public void undoPop() {
        requireActive();
        nextAvail = (nextAvail - 1) & 0xFFFF;
    }

    /** Reads the driver's avail idx; true when there are entries to serve. */
    private boolean refreshAvail() throws VirtQueueException {
        int idx = availIdx();
        if (idx == nextAvail && eventIdx) {
            used.set(U16, 4 + 8L * activeSize, (short) nextAvail);
            // Store avail_event, then load idx: the driver does the mirror image (store idx, load
            // avail_event), so at least one side sees the other's store. Needs a store-load fence.
            VarHandle.fullFence();
            idx = availIdx();
        }
        int pending = (idx - nextAvail) & 0xFFFF;
        if (pending > activeSize) {
            throw new VirtQueueException("available index " + idx + " is " + pending
                    + " entries ahead of the device's " + nextAvail + ", more than the queue size " + activeSize);
        }
        availSnapshot = idx;
        return pending != 0;
    }

    private int availIdx() {
        return (short) RING_IDX.getAcquire(avail, 2L) & 0xFFFF;
    }

    /** Follows the chain from {@code head}, validating and copying each buffer. */
    private DescriptorChain walk(int head, DescriptorChain reuse) throws VirtQueueException {
        MemorySegment table = desc;
        int tableSize = activeSize;
        boolean inIndirect = false;
        // Each table is walked at most once per entry: more steps than entries means a loop.
        int stepsLeft = tableSize;
        int index = head;
        int count = 0;
        int readable = 0;
        long total = 0;
        while (true) {
            if (stepsLeft-- == 0) {
                throw new VirtQueueException("chain from head " + head + " has more descriptors than its "
                        + (inIndirect ? "indirect table's " : "queue size ") + tableSize + " (a loop?)");
            }
            long base = (long) index * DESC_SIZE;
            long address = table.get(U64, base);
            long length = table.get(U32, base + 8) & 0xFFFF_FFFFL;
            int flags = table.get(U16, base + 12) & 0xFFFF;
            int next = table.get(U16, base + 14) & 0xFFFF;
            if ((flags & DESC_F_INDIRECT) != 0) {
                if (!indirect) {
                    throw bad(head, inIndirect, index,
                            " is indirect, but VIRTIO_F_INDIRECT_DESC was not negotiated");
                }
                if (inIndirect) {
                    throw bad(head, inIndirect, index, " is indirect inside an indirect table");
                }
                if ((flags & DESC_F_NEXT) != 0) {
                    throw bad(head, inIndirect, index, " is indirect and also has NEXT");
                }
                if (length == 0 || length % DESC_SIZE != 0) {
                    throw bad(head, inIndirect, index, ": indirect table length " + length
                            + " is not a non-zero multiple of 16");
                }
                long entries = length / DESC_SIZE;
                // Indirect Descriptors, driver requirements: no chain longer than the queue size.
                if (entries > activeSize) {
                    throw bad(head, inIndirect, index, ": indirect table of " + entries
                            + " descriptors is longer than the queue size " + activeSize);
                }
                if (!memory.contains(address, length)) {
                    throw bad(head, inIndirect, index, ": indirect table at 0x" + Long.toHexString(address)
                            + " + " + length + " is outside guest RAM");
                }
                table = memory.slice(address, length);
                tableSize = (int) entries;
                inIndirect = true;
                stepsLeft = tableSize;
                index = 0;
                continue;
            }
            if (!memory.contains(address, length)) {
                throw bad(head, inIndirect, index, ": buffer at 0x" + Long.toHexString(address) + " + " + length
                        + " is outside guest RAM");
            }
            boolean writable = (flags & DESC_F_WRITE) != 0;
            if (!writable && readable != count) {
                // Message Framing, driver requirements: device-writable buffers come after device-readable ones.
                throw bad(head, inIndirect, index,
                        " is device-readable but follows a device-writable descriptor");
            }
            total += length;
            if (total > MAX_CHAIN_BYTES) {
                throw bad(head, inIndirect, index, ": chain is longer than 2^32 bytes in total");
            }
            add(count, address, (int) length);
            count++;
            if (!writable) {
                readable++;
            }
            if ((flags & DESC_F_NEXT) == 0) {
                break;
            }
            if (next >= tableSize) {
                throw bad(head, inIndirect, index,
                        ": next index " + next + " is beyond its table of " + tableSize);
            }
            index = next;
        }
        if (reuse != null) {
            reuse.refill(head, scratchAddresses, scratchLengths, count, readable);
            return reuse;
        }
        return new DescriptorChain(memory, head, Arrays.copyOf(scratchAddresses, count),
                Arrays.copyOf(scratchLengths, count), readable);
    }

    /** An error naming the descriptor; the text is built only on this path, never per descriptor. */
    private static VirtQueueException bad(int head, boolean inIndirect, int index, String what) {
        return new VirtQueueException("chain from head " + head + ": " + (inIndirect ? "indirect " : "")
                + "descriptor " + index + what);
    }

    private void add(int i, long address, int length) {
        if (i == scratchAddresses.length) {
            scratchAddresses = Arrays.copyOf(scratchAddresses, i * 2);
            scratchLengths = Arrays.copyOf(scratchLengths, i * 2);
        }
        scratchAddresses[i] = address;
        scratchLengths[i] = length;
    }

    /**
     * Returns the chain at {@code head} to the driver, {@code len} bytes written into it, and publishes the
     * new used idx with release ordering (the element, and the data the device wrote, become visible first).
     */
    public void addUsed(int head, int len) {
        requireActive();
        if (head < 0 || head >= activeSize) {
            throw new IllegalArgumentException("head " + head + " is not below the queue size " + activeSize);
        }
        long element = 4 + 8L * (nextUsed & (activeSize - 1));
        used.set(U32, element, head);
        used.set(U32, element + 4, len);
        nextUsed = (nextUsed + 1) & 0xFFFF;
        RING_IDX.setRelease(used, 2L, (short) nextUsed);
    }

    /**
     * Whether the driver wants an interrupt for the chains added since the last call: without
     * VIRTIO_F_EVENT_IDX unless it set VIRTQ_AVAIL_F_NO_INTERRUPT; with it when the used idx passed the
     * driver's used_event (the vring_need_event rule). False when nothing was added.
     */
    public boolean needsNotification() {
        if (memory == null) {
            return false;
        }
        int old = signalledUsed;
        int now = nextUsed;
        if (old == now) {
            return false;
        }
        signalledUsed = now;
        // Our used idx store must be visible before we read the driver's suppression fields, or the driver
        // could decide it needs no interrupt while we decide it asked for none (store-load ordering).
        VarHandle.fullFence();
        if (eventIdx) {
            int usedEvent = avail.get(U16, 4 + 2L * activeSize) & 0xFFFF;
            // Interrupt when used_event lies in [old, now): the driver asked to hear about that entry.
            return ((now - usedEvent - 1) & 0xFFFF) < ((now - old) & 0xFFFF);
        }
        return (avail.get(U16, 0) & AVAIL_F_NO_INTERRUPT) == 0;
    }

    private void requireActive() {
        if (memory == null) {
            throw new IllegalStateException("virtqueue is not active");
        }
    }
}
