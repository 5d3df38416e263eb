package vessel.devices.virtio;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import vessel.devices.DeviceMetrics;
import vessel.memory.GuestMemory;

/**
 * virtio-balloon (device type 5, virtio 1.x section 5.5). The host sets a target ({@code num_pages});
 * the driver inflates toward it by handing 4 KiB page frame numbers over the inflate queue, and
 * Vessel gives those pages back to the host ({@link GuestMemory#discard}), so the VMM's resident memory
 * drops. Deflated pages need nothing: the guest touching one again faults in a zero page. Optional
 * queues follow in the order Linux assigns them: statistics (when polling is on), free page hinting,
 * free page reporting.
 *
 * <p>Statistics work as the spec's protocol: the driver posts a buffer of (le16 tag, le64 value) pairs;
 * the device keeps it and, after the polling interval, returns it, which asks the driver for fresh ones.
 * The wait is the VMM's {@link QueueTimer}, never a thread of the device's own.
 *
 * <p>Like the other devices, not thread-safe: the transport calls it under its lock; the API's calls
 * ({@link #setTargetPages}, {@link #setStatsInterval}, hinting commands) take that same lock.
 */
public final class VirtioBalloon implements VirtioDevice, vessel.devices.Snapshottable<VirtioBalloon.State> {
    private static final System.Logger LOG = System.getLogger("vessel.devices.virtio");

    public static final int DEVICE_TYPE = 5;
    public static final int QUEUE_SIZE = 256;
    /** Balloon page frame numbers are always of 4 KiB pages, whatever the guest's page size. */
    public static final int PFN_SHIFT = 12;
    public static final long PAGE = 1L << PFN_SHIFT;

    public static final int F_MUST_TELL_HOST = 0;
    public static final int F_STATS_VQ = 1;
    public static final int F_DEFLATE_ON_OOM = 2;
    public static final int F_FREE_PAGE_HINT = 3;
    public static final int F_REPORTING = 5;

    /** Hinting command ids with a fixed meaning (virtio 1.x 5.5.6.7); runs use ids from 2 on. */
    public static final int HINT_CMD_STOP = 0;
    public static final int HINT_CMD_DONE = 1;

    static final int CONFIG_SIZE = 16;
    /**
     * The most PFNs one inflate or deflate request is read for (Linux sends 256): bounds the copy a chain
     * can ask for; the rest of a longer buffer is ignored and the driver sees it used all the same.
     */
    static final int MAX_PFNS_PER_REQUEST = 1 << 16;
    /** The statistics a buffer may hold: one per tag the spec defines, a few more for later tags. */
    static final int MAX_STATS = 32;
    static final int STAT_BYTES = 10;

    /** What the balloon is told at creation (Firecracker's BalloonDeviceConfig less the target). */
    public record Features(boolean deflateOnOom, boolean stats, boolean freePageHinting, boolean freePageReporting) {
    }

    /** The last statistics the driver gave, by virtio tag (index); -1 where it gave none. */
    public record Stats(long[] byTag) {
        public static final int SWAP_IN = 0;
        public static final int SWAP_OUT = 1;
        public static final int MAJOR_FAULTS = 2;
        public static final int MINOR_FAULTS = 3;
        public static final int FREE_MEMORY = 4;
        public static final int TOTAL_MEMORY = 5;
        public static final int AVAILABLE_MEMORY = 6;
        public static final int DISK_CACHES = 7;
        public static final int HUGETLB_ALLOCATIONS = 8;
        public static final int HUGETLB_FAILURES = 9;
        public static final int OOM_KILL = 10;
        public static final int ALLOC_STALL = 11;
        public static final int ASYNC_SCAN = 12;
        public static final int DIRECT_SCAN = 13;
        public static final int ASYNC_RECLAIM = 14;
        public static final int DIRECT_RECLAIM = 15;
        public static final int TAGS = 16;

        /** The value of {@code tag}, or null when the driver never reported it. */
        public Long get(int tag) {
            return tag < byTag.length && byTag[tag] >= 0 ? byTag[tag] : null;
        }
    }

    /** The hinting run's state as Firecracker's GET /balloon/hinting/status reports it. */
    public record HintingStatus(int hostCmd, Integer guestCmd) {
    }

    /** Counters, as Firecracker's balloon metrics name them. */
    public record Counters(long inflateCount, long deflateCount, long statsUpdates, long statsUpdateFails,
                           long freePageReportCount, long freePageReportFreed, long freePageHintCount,
                           long freePageHintFreed, long discardFails) {
    }

    private enum Role { INFLATE, DEFLATE, STATS, HINT, REPORT }

    private final Features features;
    private final QueueServer inflate;
    private final QueueServer deflate;
    /** Made at activation: a queue's index is known only once the driver has said which features it took. */
    private QueueServer report = new QueueServer("virtio-balloon reporting_vq", 0, chain -> 0);
    private QueueServer hint = new QueueServer("virtio-balloon free_page_vq", 0, chain -> 0);
    private int hintQueueIndex = -1;
    private int reportQueueIndex = -1;
    private final Role[] roles = new Role[5];
    private final AtomicLong inflates = new AtomicLong();
    private final AtomicLong deflates = new AtomicLong();
    private final AtomicLong statsUpdates = new AtomicLong();
    private final AtomicLong statsFails = new AtomicLong();
    private final AtomicLong reports = new AtomicLong();
    private final AtomicLong reportedBytes = new AtomicLong();
    private final AtomicLong hints = new AtomicLong();
    private final AtomicLong hintedBytes = new AtomicLong();
    private final AtomicLong discardFails = new AtomicLong();
    private Object lock = this;
    private QueueTimer timer = QueueTimer.NONE;
    private GuestMemory memory;
    private VirtioInterrupt interrupt;
    private volatile int targetPages;
    private volatile int actualPages;
    private volatile int statsIntervalSeconds;
    private volatile long[] lastStats = new long[0];
    private int statsQueueIndex = -1;
    private VirtQueue statsQueue;
    /** The stats buffer the device holds until the next poll, or -1. */
    private int heldStatsHead = -1;
    /** The stats buffer a snapshot said the device held, for the activation that restores it; else -1. */
    private int restoredStatsHead = -1;
    private long statsDueNanos;
    private volatile int hintCmd = HINT_CMD_STOP; // as Firecracker: no run yet
    private volatile Integer guestHintCmd;
    private boolean ackOnStop;
    private int nextHintCmd = 2;
    private byte[] scratch = new byte[0];
    private boolean loggedBadPfn;

    /**
     * @param targetPages          the initial target, in 4 KiB pages
     * @param statsIntervalSeconds 0: no statistics queue; else how often the driver is asked for them
     */
    public VirtioBalloon(int targetPages, Features features, int statsIntervalSeconds) {
        if (features.stats() != statsIntervalSeconds > 0) {
            throw new IllegalArgumentException("statistics are on exactly when the interval is above 0");
        }
        this.features = features;
        this.targetPages = targetPages;
        this.statsIntervalSeconds = statsIntervalSeconds;
        this.inflate = new QueueServer("virtio-balloon inflateq", 0, chain -> release(chain, true));
        this.deflate = new QueueServer("virtio-balloon deflateq", 1, chain -> release(chain, false));
        int next = 2;
        roles[0] = Role.INFLATE;
        roles[1] = Role.DEFLATE;
        if (features.stats()) {
            roles[next++] = Role.STATS;
        }
        int hintIndex = features.freePageHinting() ? next++ : -1;
        if (hintIndex >= 0) {
            roles[hintIndex] = Role.HINT;
        }
        int reportIndex = features.freePageReporting() ? next++ : -1;
        if (reportIndex >= 0) {
            roles[reportIndex] = Role.REPORT;
        }
    }

    public Features features() {
        return features;
    }

    @Override
    public int deviceType() {
        return DEVICE_TYPE;
    }

    @Override
    public long deviceFeatures() {
        long f = 0;
        if (features.stats()) {
            f |= 1L << F_STATS_VQ;
        }
        if (features.deflateOnOom()) {
            f |= 1L << F_DEFLATE_ON_OOM;
        }
        if (features.freePageHinting()) {
            f |= 1L << F_FREE_PAGE_HINT;
        }
        if (features.freePageReporting()) {
            f |= 1L << F_REPORTING;
        }
        return f;
    }

    @Override
    public int queueCount() {
        return 2 + (features.stats() ? 1 : 0) + (features.freePageHinting() ? 1 : 0)
                + (features.freePageReporting() ? 1 : 0);
    }

    @Override
    public int queueMaxSize() {
        return QUEUE_SIZE;
    }

    @Override
    public int configSize() {
        return CONFIG_SIZE;
    }

    /** num_pages @0, actual @4, free_page_hint_cmd_id @8, poison_val @12 (all le32). */
    @Override
    public byte[] configSpace() {
        return ConfigSpace.allocate(CONFIG_SIZE).putInt(targetPages).putInt(actualPages).putInt(hintCmd).array();
    }

    /** The driver writes only {@code actual} (and poison_val, which Vessel does not offer). */
    @Override
    public void writeConfig(int offset, int size, long value) {
        if (offset == 4 && size == 4) {
            actualPages = (int) value;
        }
    }

    @Override
    public void transportLock(Object transportLock) {
        this.lock = transportLock;
    }

    @Override
    public void queueTimer(QueueTimer timer) {
        this.timer = timer;
    }

    @Override
    public void activate(GuestMemory memory, List<VirtQueue> queues, long ackedFeatures, VirtioInterrupt interrupt) {
        this.memory = memory;
        this.interrupt = interrupt;
        inflate.start(queue(queues, 0), interrupt);
        deflate.start(queue(queues, 1), interrupt);
        // Linux numbers the queues it finds in order, skipping those whose feature it did not take.
        int next = 2;
        statsQueueIndex = -1;
        statsQueue = null;
        hintQueueIndex = -1;
        reportQueueIndex = -1;
        for (Role role : new Role[] {Role.STATS, Role.HINT, Role.REPORT}) {
            int index = -1;
            for (int i = 2; i < roles.length; i++) {
                if (roles[i] == role) {
                    index = i;
                }
            }
            if (index < 0) {
                continue;
            }
            int bit = switch (role) {
                case STATS -> F_STATS_VQ;
                case HINT -> F_FREE_PAGE_HINT;
                default -> F_REPORTING;
            };
            if ((ackedFeatures & (1L << bit)) == 0) {
                continue;
            }
            VirtQueue q = queue(queues, next);
            switch (role) {
                case STATS -> {
                    statsQueueIndex = next;
                    statsQueue = q;
                }
                case HINT -> {
                    hintQueueIndex = next;
                    hint = new QueueServer("virtio-balloon free_page_vq", next, this::hinted);
                    hint.start(q, interrupt);
                }
                default -> {
                    reportQueueIndex = next;
                    report = new QueueServer("virtio-balloon reporting_vq", next, this::reported);
                    report.start(q, interrupt);
                }
            }
            next++;
        }
        heldStatsHead = restoredStatsHead;
        restoredStatsHead = -1;
        statsDueNanos = System.nanoTime(); // a restored buffer goes back at the first notification
    }

    private static VirtQueue queue(List<VirtQueue> queues, int index) {
        return index < queues.size() ? queues.get(index) : null;
    }

    @Override
    public boolean queueNotified(int index) {
        if (index == 0) {
            return inflate.serve();
        }
        if (index == 1) {
            return deflate.serve();
        }
        if (index == statsQueueIndex) {
            serveStats();
            return false;
        }
        if (index == hintQueueIndex) {
            return hint.serve();
        }
        if (index == reportQueueIndex) {
            return report.serve();
        }
        return false;
    }

    @Override
    public void reset() {
        inflate.clear();
        deflate.clear();
        hint.clear();
        report.clear();
        hintQueueIndex = -1;
        reportQueueIndex = -1;
        statsQueue = null;
        statsQueueIndex = -1;
        heldStatsHead = -1;
        memory = null;
        interrupt = null;
        actualPages = 0;
    }

    /**
     * The balloon's settings and the driver's side of them: target and actual size, the statistics
     * interval and last statistics, the stats buffer the device holds (its head, or -1) and the hinting
     * commands ({@code guestHintCmd} -1: none yet). The features are configuration: a mismatch is refused.
     */
    public record State(Features features, int targetPages, int actualPages, int statsIntervalSeconds, long[] lastStats,
                        int heldStatsHead, int hintCmd, int guestHintCmd, boolean ackOnStop, int nextHintCmd) {
        public State {
            if (lastStats.length > Stats.TAGS || statsIntervalSeconds < 0 || heldStatsHead < -1
                    || heldStatsHead >= QUEUE_SIZE) {
                throw new IllegalArgumentException("balloon state with " + lastStats.length + " statistics, interval "
                        + statsIntervalSeconds + ", held buffer " + heldStatsHead);
            }
            lastStats = lastStats.clone();
        }
    }

    @Override
    public Class<State> stateType() {
        return State.class;
    }

    @Override
    public State saveState() {
        synchronized (lock) {
            Integer guest = guestHintCmd;
            return new State(features, targetPages, actualPages, statsIntervalSeconds, lastStats, heldStatsHead, hintCmd,
                    guest == null ? -1 : guest, ackOnStop, nextHintCmd);
        }
    }

    /** Before the transport activates the device again; the held stats buffer is taken back then. */
    @Override
    public void restoreState(State s) {
        if (!s.features().equals(features)) {
            throw new IllegalArgumentException("balloon state for features " + s.features() + ", not " + features);
        }
        synchronized (lock) {
            targetPages = s.targetPages();
            actualPages = s.actualPages();
            statsIntervalSeconds = s.statsIntervalSeconds();
            lastStats = s.lastStats().clone();
            restoredStatsHead = s.heldStatsHead();
            hintCmd = s.hintCmd();
            guestHintCmd = s.guestHintCmd() < 0 ? null : s.guestHintCmd();
            ackOnStop = s.ackOnStop();
            nextHintCmd = s.nextHintCmd();
        }
    }

    // ---- the API's side (any thread) ----

    /** Sets the target and tells an active driver (configuration-change interrupt). */
    public void setTargetPages(int pages) {
        synchronized (lock) {
            targetPages = pages;
            if (interrupt != null) {
                interrupt.config();
            }
        }
    }

    public int targetPages() {
        return targetPages;
    }

    /** The pages the driver says the balloon holds ({@code actual}). */
    public int actualPages() {
        return actualPages;
    }

    /** Changes the polling interval (only while statistics are on; 0 is refused by the caller). */
    public void setStatsInterval(int seconds) {
        synchronized (lock) {
            statsIntervalSeconds = seconds;
            if (heldStatsHead >= 0) {
                statsDueNanos = System.nanoTime(); // Firecracker polls once right away on a change
                timer.wakeAfter(statsQueueIndex, 0);
            }
        }
    }

    public int statsIntervalSeconds() {
        return statsIntervalSeconds;
    }

    /** The latest statistics the driver gave (all absent before the first). */
    public Stats stats() {
        long[] s = lastStats;
        long[] out = new long[Stats.TAGS];
        java.util.Arrays.fill(out, -1);
        System.arraycopy(s, 0, out, 0, Math.min(s.length, out.length));
        return new Stats(out);
    }

    /** Starts a hinting run: a new command id in the configuration, and an interrupt. */
    public void startHinting(boolean acknowledgeOnStop) {
        synchronized (lock) {
            ackOnStop = acknowledgeOnStop;
            hintCmd = nextHintCmd;
            nextHintCmd = nextHintCmd == Integer.MAX_VALUE ? 2 : nextHintCmd + 1;
            if (interrupt != null) {
                interrupt.config();
            }
        }
    }

    /** Ends a hinting run: DONE lets the driver take its hinted pages back. */
    public void stopHinting() {
        synchronized (lock) {
            hintCmd = HINT_CMD_DONE;
            if (interrupt != null) {
                interrupt.config();
            }
        }
    }

    public HintingStatus hintingStatus() {
        return new HintingStatus(hintCmd, guestHintCmd);
    }

    @Override
    public DeviceMetrics metrics(String id) {
        Counters c = counters();
        return new DeviceMetrics.Balloon(id, c.inflateCount(), c.deflateCount(), c.statsUpdates(), c.statsUpdateFails(),
                c.freePageReportCount(), c.freePageReportFreed(), c.freePageHintCount(), c.freePageHintFreed(),
                c.discardFails());
    }

    public Counters counters() {
        return new Counters(inflates.get(), deflates.get(), statsUpdates.get(), statsFails.get(), reports.get(),
                reportedBytes.get(), hints.get(), hintedBytes.get(), discardFails.get());
    }

    // ---- queue work (transport lock held) ----

    /** An inflate (discard each page) or deflate (nothing to do) request: le32 PFNs. */
    private int release(DescriptorChain chain, boolean inflating) {
        (inflating ? inflates : deflates).incrementAndGet();
        long count = Math.min(chain.readableLength() / 4, MAX_PFNS_PER_REQUEST);
        if (!inflating || count == 0) {
            return 0;
        }
        int bytes = (int) count * 4;
        if (scratch.length < bytes) {
            scratch = new byte[bytes];
        }
        chain.read(0, scratch, 0, bytes);
        // Runs of consecutive frames go to the host as one range: Linux inflates mostly in runs.
        long runStart = -1;
        long runPages = 0;
        for (int i = 0; i < count; i++) {
            long pfn = Integer.toUnsignedLong((scratch[4 * i] & 0xff) | (scratch[4 * i + 1] & 0xff) << 8
                    | (scratch[4 * i + 2] & 0xff) << 16 | (scratch[4 * i + 3] & 0xff) << 24);
            long gpa = pfn << PFN_SHIFT;
            if (runStart >= 0 && gpa == runStart + runPages * PAGE) {
                runPages++;
                continue;
            }
            discardRun(runStart, runPages);
            runStart = gpa;
            runPages = 1;
        }
        discardRun(runStart, runPages);
        return 0;
    }

    private void discardRun(long gpa, long pages) {
        if (pages == 0) {
            return;
        }
        long len = pages * PAGE;
        if (memory.contains(gpa, len)) {
            if (!memory.discard(gpa, len)) {
                discardFails.incrementAndGet();
            }
            return;
        }
        // A run across a region boundary, or frames that are not RAM: page by page, skipping the bad ones.
        for (long p = 0; p < pages; p++) {
            long at = gpa + p * PAGE;
            if (!memory.contains(at, PAGE)) {
                discardFails.incrementAndGet();
                if (!loggedBadPfn) {
                    loggedBadPfn = true;
                    LOG.log(Level.WARNING, "virtio-balloon: the driver inflated a frame that is not guest RAM (0x"
                            + Long.toHexString(at) + "); such frames are skipped and only counted from now on");
                }
            } else if (!memory.discard(at, PAGE)) {
                discardFails.incrementAndGet();
            }
        }
    }

    /** Free page reporting: each device-writable buffer is a free range the host may drop. */
    private int reported(DescriptorChain chain) {
        reports.incrementAndGet();
        for (int i = chain.readableCount(); i < chain.segmentCount(); i++) {
            long gpa = chain.address(i);
            long len = chain.length(i) & ~(PAGE - 1);
            if (gpa % PAGE == 0 && len > 0 && memory.discard(gpa, len)) {
                reportedBytes.addAndGet(len);
            } else {
                discardFails.incrementAndGet();
            }
        }
        return 0;
    }

    /**
     * Free page hinting: a readable le32 is the driver's command id (the run it answers, or STOP when it
     * has no more); writable buffers are free pages it holds for the host until the run is DONE.
     */
    private int hinted(DescriptorChain chain) {
        if (chain.readableLength() >= 4) {
            byte[] id = new byte[4];
            chain.read(0, id, 0, 4);
            int cmd = (id[0] & 0xff) | (id[1] & 0xff) << 8 | (id[2] & 0xff) << 16 | (id[3] & 0xff) << 24;
            guestHintCmd = cmd;
            if (cmd == HINT_CMD_STOP && ackOnStop && hintCmd != HINT_CMD_DONE) {
                hintCmd = HINT_CMD_DONE;
                interrupt.config();
            }
        }
        if (hintCmd == HINT_CMD_DONE || hintCmd == HINT_CMD_STOP) {
            return 0; // no run, or one that is over: the driver may already use those pages again
        }
        for (int i = chain.readableCount(); i < chain.segmentCount(); i++) {
            long gpa = chain.address(i);
            long len = chain.length(i) & ~(PAGE - 1);
            hints.incrementAndGet();
            if (gpa % PAGE == 0 && len > 0 && memory.discard(gpa, len)) {
                hintedBytes.addAndGet(len);
            } else {
                discardFails.incrementAndGet();
            }
        }
        return 0;
    }

    /**
     * The statistics queue: a buffer the driver posts is read and kept; once the interval has passed
     * (the VMM's timer notifies this queue again) it goes back used, and the driver refills it.
     */
    private void serveStats() {
        VirtQueue q = statsQueue;
        if (q == null) {
            return;
        }
        try {
            if (heldStatsHead >= 0) {
                if (System.nanoTime() - statsDueNanos < 0) {
                    return; // a notification before the poll is due: its timer is set
                }
                q.addUsed(heldStatsHead, 0);
                heldStatsHead = -1;
                if (q.needsNotification()) {
                    interrupt.queue(statsQueueIndex);
                }
            }
            DescriptorChain chain = q.pop();
            if (chain == null) {
                return;
            }
            parseStats(chain);
            heldStatsHead = chain.head();
            long wait = TimeUnit.SECONDS.toNanos(statsIntervalSeconds);
            statsDueNanos = System.nanoTime() + wait;
            timer.wakeAfter(statsQueueIndex, wait);
        } catch (VirtQueueException e) {
            statsFails.incrementAndGet();
            statsQueue = null;
            LOG.log(Level.WARNING, "virtio-balloon statsq: " + e.getMessage() + "; queue stopped until reset");
            interrupt.needsReset("virtio-balloon statsq: " + e.getMessage());
        }
    }

    private void parseStats(DescriptorChain chain) {
        long n = Math.min(chain.readableLength() / STAT_BYTES, MAX_STATS);
        if (chain.readableLength() % STAT_BYTES != 0) {
            statsFails.incrementAndGet();
        }
        byte[] b = new byte[(int) n * STAT_BYTES];
        chain.read(0, b, 0, b.length);
        long[] values = lastStats.length == Stats.TAGS ? lastStats.clone() : newStats();
        for (int i = 0; i < n; i++) {
            int at = i * STAT_BYTES;
            int tag = (b[at] & 0xff) | (b[at + 1] & 0xff) << 8;
            long v = 0;
            for (int k = 7; k >= 0; k--) {
                v = (v << 8) | (b[at + 2 + k] & 0xff);
            }
            if (tag < Stats.TAGS) {
                values[tag] = v;
            }
        }
        lastStats = values;
        statsUpdates.incrementAndGet();
    }

    private static long[] newStats() {
        long[] s = new long[Stats.TAGS];
        java.util.Arrays.fill(s, -1);
        return s;
    }

    /** For tests: the role of each queue index, as offered. */
    List<String> queueRoles() {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < queueCount(); i++) {
            out.add(roles[i].name());
        }
        return out;
    }
}
