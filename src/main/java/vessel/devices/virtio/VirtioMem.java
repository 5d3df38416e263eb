package vessel.devices.virtio;

import java.lang.System.Logger.Level;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import vessel.devices.DeviceMetrics;
import vessel.memory.GuestMemory;
import vessel.memory.PluggableRegion;

/**
 * virtio-mem (device type 24, virtio 1.2 section 5.15, "Memory Device"): hot-(un)pluggable memory in blocks. The
 * device owns one {@link PluggableRegion} above the guest's RAM, which no firmware table describes as RAM; the host
 * asks for an amount ({@code requested_size}, with a configuration-change interrupt) and the guest's driver plugs or
 * unplugs blocks toward it over the one request queue. Every address and block count the driver sends is checked
 * against the usable region and the block size before anything changes; the region's bitmap is the plugged state,
 * which survives a device reset (the driver unplugs everything itself when it finds memory plugged at probe).
 *
 * <p>Not thread-safe, like the other devices: the transport calls it under its lock; {@link #setRequestedSize} from
 * the API thread takes that lock.
 */
public final class VirtioMem implements VirtioDevice {
    private static final System.Logger LOG = System.getLogger("vessel.devices.virtio");

    public static final int DEVICE_TYPE = 24;
    public static final int QUEUE_SIZE = 128;
    /** The driver must not touch unplugged memory (Linux 5.16 and later take it). */
    public static final int F_UNPLUGGED_INACCESSIBLE = 1;

    public static final int REQ_PLUG = 0;
    public static final int REQ_UNPLUG = 1;
    public static final int REQ_UNPLUG_ALL = 2;
    public static final int REQ_STATE = 3;
    public static final int RESP_ACK = 0;
    public static final int RESP_NACK = 1;
    public static final int RESP_BUSY = 2;
    public static final int RESP_ERROR = 3;
    public static final int STATE_PLUGGED = 0;
    public static final int STATE_UNPLUGGED = 1;
    public static final int STATE_MIXED = 2;

    /** struct virtio_mem_req: le16 type, 3 x le16 padding, le64 addr, le16 nb_blocks, 3 x le16 padding. */
    public static final int REQUEST_SIZE = 24;
    /** struct virtio_mem_resp: le16 type, 3 x le16 padding, le16 state. */
    public static final int RESPONSE_SIZE = 10;
    /**
     * block_size @0, node_id @8 (le16, then 6 bytes of padding), addr @16, region_size @24, usable_region_size @32,
     * plugged_size @40, requested_size @48; all le64 but node_id.
     */
    static final int CONFIG_SIZE = 56;

    /** One request as the driver sent it; {@code addr} and {@code nbBlocks} are unchecked guest values. */
    public record Request(int type, long addr, int nbBlocks) {
        /** Reads the 24 bytes of a request (little-endian; padding ignored, as the spec asks). */
        public static Request parse(byte[] b) {
            if (b.length < REQUEST_SIZE) {
                throw new IllegalArgumentException("a virtio-mem request is " + REQUEST_SIZE + " bytes, not " + b.length);
            }
            return new Request(le(b, 0, 2), leLong(b, 8), le(b, 16, 2));
        }
    }

    /** The device's answer: a RESP_* type, and for an acknowledged STATE request a STATE_* value. */
    public record Response(int type, int state) {
        static final Response ACK = new Response(RESP_ACK, 0);
        static final Response NACK = new Response(RESP_NACK, 0);
        static final Response ERROR = new Response(RESP_ERROR, 0);

        byte[] encode() {
            byte[] b = new byte[RESPONSE_SIZE];
            b[0] = (byte) type;
            b[1] = (byte) (type >>> 8);
            b[8] = (byte) state;
            b[9] = (byte) (state >>> 8);
            return b;
        }
    }

    /**
     * The device's state, as Firecracker's GET /hotplug/memory reports it (bytes here): what is plugged, what the
     * host asked for, and the fixed geometry.
     */
    public record Status(long regionSize, long blockSize, long slotSize, long pluggedSize, long requestedSize) {
    }

    /** Counters, as Firecracker's memory_hotplug metrics name them. */
    public record Counters(long plugCount, long plugBytes, long plugFails, long unplugCount, long unplugBytes,
                           long unplugFails, long unplugDiscardFails, long unplugAllCount, long unplugAllFails,
                           long stateCount, long stateFails, long invalidRequests) {
    }

    private final PluggableRegion region;
    private final long slotSize;
    private final QueueServer guestq;
    private final AtomicLong plugCount = new AtomicLong();
    private final AtomicLong plugBytes = new AtomicLong();
    private final AtomicLong plugFails = new AtomicLong();
    private final AtomicLong unplugCount = new AtomicLong();
    private final AtomicLong unplugBytes = new AtomicLong();
    private final AtomicLong unplugFails = new AtomicLong();
    private final AtomicLong discardFails = new AtomicLong();
    private final AtomicLong unplugAllCount = new AtomicLong();
    private final AtomicLong unplugAllFails = new AtomicLong();
    private final AtomicLong stateCount = new AtomicLong();
    private final AtomicLong stateFails = new AtomicLong();
    private final AtomicLong invalid = new AtomicLong();
    private final byte[] request = new byte[REQUEST_SIZE];
    private Object lock = this;
    private VirtioInterrupt interrupt;
    private volatile long requestedSize;
    /** Plugged bytes; kept with the region's bitmap (the only writer is this device). */
    private volatile long pluggedSize;
    private boolean loggedBadRequest;

    /**
     * @param region   the hot-pluggable memory, all of it unplugged or as a previous device left it
     * @param slotSize how Firecracker's API groups blocks into KVM slots (reported only: the region is one slot)
     */
    public VirtioMem(PluggableRegion region, long slotSize) {
        this.region = region;
        this.slotSize = slotSize;
        this.pluggedSize = region.pluggedBlocks() * region.blockSize();
        this.guestq = new QueueServer("virtio-mem guestq", 0, this::serve);
    }

    @Override
    public int deviceType() {
        return DEVICE_TYPE;
    }

    @Override
    public long deviceFeatures() {
        return 1L << F_UNPLUGGED_INACCESSIBLE;
    }

    @Override
    public int queueCount() {
        return 1;
    }

    @Override
    public int queueMaxSize() {
        return QUEUE_SIZE;
    }

    @Override
    public int configSize() {
        return CONFIG_SIZE;
    }

    @Override
    public byte[] configSpace() {
        return ConfigSpace.allocate(CONFIG_SIZE).putLong(region.blockSize()).putLong(0 /* node_id 0, padding */)
                .putLong(region.guestBase()).putLong(region.size()).putLong(region.size()).putLong(pluggedSize)
                .putLong(requestedSize).array();
    }

    /** The configuration is the device's to change: driver writes are ignored. */
    @Override
    public void writeConfig(int offset, int size, long value) {
    }

    @Override
    public void transportLock(Object transportLock) {
        this.lock = transportLock;
    }

    @Override
    public void activate(GuestMemory memory, List<VirtQueue> queues, long ackedFeatures, VirtioInterrupt interrupt) {
        this.interrupt = interrupt;
        guestq.start(queues.isEmpty() ? null : queues.getFirst(), interrupt);
    }

    @Override
    public boolean queueNotified(int index) {
        return index == 0 && guestq.serve();
    }

    @Override
    public void reset() {
        guestq.clear();
        interrupt = null;
    }

    // ---- the API's side (any thread) ----

    /**
     * Asks the guest for {@code bytes} of plugged memory (a whole number of blocks, at most the region) and tells an
     * active driver (configuration-change interrupt).
     */
    public void setRequestedSize(long bytes) {
        if (bytes < 0 || bytes > region.size() || bytes % region.blockSize() != 0) {
            throw new IllegalArgumentException("requested size " + bytes + " is not a whole number of "
                    + region.blockSize() + "-byte blocks within the " + region.size() + "-byte region");
        }
        synchronized (lock) {
            requestedSize = bytes;
            if (interrupt != null) {
                interrupt.config();
            }
        }
    }

    public Status status() {
        return new Status(region.size(), region.blockSize(), slotSize, pluggedSize, requestedSize);
    }

    public PluggableRegion region() {
        return region;
    }

    @Override
    public DeviceMetrics metrics(String id) {
        Counters c = counters();
        return new DeviceMetrics.MemoryHotplug(id, c.plugCount(), c.plugBytes(), c.plugFails(), c.unplugCount(),
                c.unplugBytes(), c.unplugFails(), c.unplugDiscardFails(), c.unplugAllCount(), c.unplugAllFails(),
                c.stateCount(), c.stateFails());
    }

    public Counters counters() {
        return new Counters(plugCount.get(), plugBytes.get(), plugFails.get(), unplugCount.get(), unplugBytes.get(),
                unplugFails.get(), discardFails.get(), unplugAllCount.get(), unplugAllFails.get(), stateCount.get(),
                stateFails.get(), invalid.get());
    }

    // ---- requests (transport lock held) ----

    /** One chain: a readable request, a writable response. A chain too short for either is answered as best it can. */
    private int serve(DescriptorChain chain) {
        boolean canAnswer = chain.writableLength() >= RESPONSE_SIZE;
        Response response;
        if (chain.readableLength() < REQUEST_SIZE || !canAnswer) {
            invalid.incrementAndGet();
            warnOnce("a request chain of " + chain.readableLength() + " readable and " + chain.writableLength()
                    + " writable bytes (needs " + REQUEST_SIZE + " and " + RESPONSE_SIZE + ")");
            response = Response.ERROR;
        } else {
            chain.read(0, request, 0, REQUEST_SIZE);
            response = handle(Request.parse(request));
        }
        if (!canAnswer) {
            return 0;
        }
        chain.write(0, response.encode(), 0, RESPONSE_SIZE);
        return RESPONSE_SIZE;
    }

    /** Carries out one request: the state machine of the spec's device requirements. */
    Response handle(Request r) {
        return switch (r.type()) {
            case REQ_PLUG -> count(plug(r), plugCount, plugFails);
            case REQ_UNPLUG -> count(unplug(r), unplugCount, unplugFails);
            case REQ_UNPLUG_ALL -> count(unplugAll(), unplugAllCount, unplugAllFails);
            case REQ_STATE -> count(state(r), stateCount, stateFails);
            default -> {
                invalid.incrementAndGet();
                warnOnce("request type " + r.type());
                yield Response.ERROR;
            }
        };
    }

    private static Response count(Response r, AtomicLong count, AtomicLong fails) {
        count.incrementAndGet();
        if (r.type() != RESP_ACK) {
            fails.incrementAndGet();
        }
        return r;
    }

    /**
     * The first block of the request's range, or -1 when the range is not whole blocks inside the usable region:
     * a block-aligned address at or above the region's start, at least one block, and its end within the region
     * (all in unsigned 64-bit arithmetic, as the guest's le64 is).
     */
    private long firstBlock(Request r) {
        long offset = r.addr() - region.guestBase();
        if (Long.compareUnsigned(r.addr(), region.guestBase()) < 0 || Long.compareUnsigned(offset, region.size()) >= 0
                || offset % region.blockSize() != 0 || r.nbBlocks() == 0) {
            return -1;
        }
        long first = offset / region.blockSize();
        return r.nbBlocks() <= region.blockCount() - first ? first : -1;
    }

    private Response plug(Request r) {
        long first = firstBlock(r);
        if (first < 0 || region.pluggedIn(first, r.nbBlocks()) != 0) {
            return Response.ERROR; // outside the usable region, or some block already plugged
        }
        long bytes = r.nbBlocks() * region.blockSize();
        if (pluggedSize + bytes > requestedSize) {
            return Response.NACK; // more than the host asked for: the driver may retry after the next change
        }
        region.plug(first, r.nbBlocks());
        pluggedSize += bytes;
        plugBytes.addAndGet(bytes);
        return Response.ACK;
    }

    private Response unplug(Request r) {
        long first = firstBlock(r);
        if (first < 0 || region.pluggedIn(first, r.nbBlocks()) != r.nbBlocks()) {
            return Response.ERROR; // outside the usable region, or some block not plugged
        }
        if (!region.unplug(first, r.nbBlocks())) {
            discardFails.incrementAndGet();
        }
        long bytes = r.nbBlocks() * region.blockSize();
        pluggedSize -= bytes;
        unplugBytes.addAndGet(bytes);
        return Response.ACK;
    }

    private Response unplugAll() {
        if (!region.unplug(0, region.blockCount())) {
            discardFails.incrementAndGet();
        }
        unplugBytes.addAndGet(pluggedSize);
        pluggedSize = 0;
        return Response.ACK;
    }

    private Response state(Request r) {
        long first = firstBlock(r);
        if (first < 0) {
            return Response.ERROR;
        }
        long plugged = region.pluggedIn(first, r.nbBlocks());
        return new Response(RESP_ACK, plugged == r.nbBlocks() ? STATE_PLUGGED : plugged == 0 ? STATE_UNPLUGGED : STATE_MIXED);
    }

    private void warnOnce(String what) {
        if (!loggedBadRequest) {
            loggedBadRequest = true;
            LOG.log(Level.WARNING, "virtio-mem: the driver sent " + what + "; answered ERROR (further ones only counted)");
        }
    }

    private static int le(byte[] b, int at, int bytes) {
        int v = 0;
        for (int i = bytes - 1; i >= 0; i--) {
            v = (v << 8) | (b[at + i] & 0xff);
        }
        return v;
    }

    private static long leLong(byte[] b, int at) {
        long v = 0;
        for (int i = 7; i >= 0; i--) {
            v = (v << 8) | (b[at + i] & 0xff);
        }
        return v;
    }
}
