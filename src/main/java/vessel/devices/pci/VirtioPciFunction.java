package vessel.devices.pci;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import vessel.devices.BusDevice;
import vessel.devices.virtio.VirtQueue;
import vessel.devices.virtio.VirtQueueException;
import vessel.devices.virtio.VirtioDevice;
import vessel.devices.virtio.VirtioInterrupt;
import vessel.memory.GuestMemory;

/**
 * virtio 1.x over PCI, modern transport only (virtio 1.x section 4.1): one 64-bit memory BAR holding
 * the common configuration, ISR, device configuration, notification and MSI-X regions, each found by
 * the driver through a vendor capability. This class owns feature negotiation, the device status state
 * machine and the queue registers; the {@link VirtioDevice} behind it sees queues only once the driver
 * sets DRIVER_OK.
 *
 * <p>Locking: the function object. vCPU threads reach it through the buses; the VM's event loop calls
 * {@link #queueNotified} under the same lock, so a reset never races a device's queue work.
 */
public final class VirtioPciFunction implements PciFunction, BusDevice,
        vessel.devices.Snapshottable<VirtioPciFunction.State> {
    public static final int VENDOR = 0x1af4;
    public static final int DEVICE_BASE = 0x1040;
    public static final int BAR = 0;
    public static final long BAR_SIZE = 0x8000;
    /** Region offsets within the BAR. */
    static final int COMMON = 0x0000;
    static final int COMMON_LENGTH = 0x38;
    static final int ISR = 0x1000;
    static final int DEVICE_CONFIG = 0x2000;
    static final int NOTIFY = 0x3000;
    static final int NOTIFY_MULTIPLIER = 4;
    static final int MSIX_TABLE = 0x4000;
    static final int MSIX_PBA = 0x6000;
    private static final int REGION = 0x1000;

    static final int STATUS_ACKNOWLEDGE = 1;
    static final int STATUS_DRIVER = 2;
    static final int STATUS_DRIVER_OK = 4;
    static final int STATUS_FEATURES_OK = 8;
    static final int STATUS_NEEDS_RESET = 0x40;
    static final int STATUS_FAILED = 0x80;
    public static final int NO_VECTOR = 0xffff;

    public static final long F_INDIRECT_DESC = 1L << 28;
    public static final long F_EVENT_IDX = 1L << 29;
    public static final long F_VERSION_1 = 1L << 32;

    /** INTx, for drivers that do not enable MSI-X. */
    public interface IntxLine {
        void level(boolean asserted);
    }

    private static final System.Logger LOG = System.getLogger("vessel.devices.virtio");

    private final String name;
    private final VirtioDevice device;
    private final GuestMemory memory;
    private final PciConfigSpace config;
    private final MsiXTable msix;
    private final IntxLine intx;
    private final List<VirtQueue> queues = new ArrayList<>();
    private final int[] queueVector;
    private final long offered;

    private int deviceFeatureSelect;
    private int driverFeatureSelect;
    private long driverFeatures;
    private int configVector = NO_VECTOR;
    private int status;
    private int configGeneration;
    private int queueSelect;
    private int isr;
    private boolean active;

    public VirtioPciFunction(String name, VirtioDevice device, GuestMemory memory, MsiXTable.MsiSink msiSink,
                             IntxLine intx) {
        this.name = name;
        this.device = device;
        this.memory = memory;
        this.intx = intx;
        this.offered = device.deviceFeatures() | F_VERSION_1 | F_INDIRECT_DESC | F_EVENT_IDX;
        // The bus and the event loop lock this object around every call into the device; a device with
        // a thread of its own takes the same lock (see VirtioDevice.transportLock).
        device.transportLock(this);
        for (int i = 0; i < device.queueCount(); i++) {
            queues.add(new VirtQueue(device.queueMaxSize()));
        }
        this.queueVector = new int[device.queueCount()];
        java.util.Arrays.fill(queueVector, NO_VECTOR);
        this.config = new PciConfigSpace(VENDOR, DEVICE_BASE + device.deviceType(), classCode(device.deviceType()),
                1, VENDOR, 0x1100);
        config.addBar(new PciConfigSpace.Bar(BAR, PciConfigSpace.BarKind.MEMORY64, BAR_SIZE, false));
        // One vector per queue and one for configuration changes, as Linux asks for first.
        this.msix = new MsiXTable(device.queueCount() + 1, msiSink);
        msix.addCapability(config, BAR, MSIX_TABLE, MSIX_PBA);
        addVirtioCapability(CapType.COMMON, COMMON, COMMON_LENGTH, null);
        addVirtioCapability(CapType.NOTIFY, NOTIFY, NOTIFY_MULTIPLIER * device.queueCount(), NOTIFY_MULTIPLIER);
        addVirtioCapability(CapType.ISR, ISR, 1, null);
        if (device.configSize() > 0) {
            addVirtioCapability(CapType.DEVICE, DEVICE_CONFIG, device.configSize(), null);
        }
    }

    private enum CapType {
        COMMON(1), NOTIFY(2), ISR(3), DEVICE(4);

        final int id;

        CapType(int id) {
            this.id = id;
        }
    }

    /** virtio_pci_cap (and virtio_pci_notify_cap's multiplier), after the ID and next-pointer bytes. */
    private void addVirtioCapability(CapType type, int offset, int length, Integer multiplier) {
        int bodyLength = multiplier == null ? 14 : 18;
        byte[] body = new byte[bodyLength];
        body[0] = (byte) (bodyLength + 2); // cap_len
        body[1] = (byte) type.id;
        body[2] = BAR;
        putLe(body, 6, offset);
        putLe(body, 10, length);
        if (multiplier != null) {
            putLe(body, 14, multiplier);
        }
        config.addCapability(0x09, body, null);
    }

    private static void putLe(byte[] b, int at, int v) {
        for (int i = 0; i < 4; i++) {
            b[at + i] = (byte) (v >>> (8 * i));
        }
    }

    /** PCI class codes as QEMU gives them, so lspci names what each device is. */
    static int classCode(int deviceType) {
        return switch (deviceType) {
            case 1 -> 0x020000; // network controller, Ethernet
            case 2 -> 0x018000; // mass storage, other
            case 18 -> 0x098000; // input device controller, other
            default -> 0xff0000; // unassigned class: entropy, vsock
        };
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public PciConfigSpace config() {
        return config;
    }

    @Override
    public BusDevice barDevice(int index) {
        return this;
    }

    public VirtioDevice device() {
        return device;
    }

    public int queueCount() {
        return queues.size();
    }

    /** The offset in the BAR of queue {@code index}'s notification register (for an ioeventfd). */
    public static long notifyOffset(int index) {
        return NOTIFY + (long) NOTIFY_MULTIPLIER * index;
    }

    @Override
    public void configWritten(int offset, int size) {
        int control = msix.capabilityOffset() + 2;
        if (offset <= control + 1 && offset + size > control) {
            msix.controlWritten();
        }
    }

    // ---- BAR accesses (vCPU threads) ----

    @Override
    public long read(long offset, int size) {
        if (offset < COMMON + REGION) {
            return readCommon((int) offset, size);
        }
        if (offset >= ISR && offset < ISR + REGION) {
            int v = isr;
            isr = 0;
            intx.level(false);
            return offset == ISR ? v : 0;
        }
        if (offset >= DEVICE_CONFIG && offset < DEVICE_CONFIG + REGION) {
            int at = (int) offset - DEVICE_CONFIG;
            return at + size <= device.configSize() ? device.readConfig(at, size) & mask(size) : 0;
        }
        if (offset >= MSIX_TABLE && offset < MSIX_PBA) {
            return msix.readTable(offset - MSIX_TABLE, size);
        }
        if (offset >= MSIX_PBA && offset < MSIX_PBA + REGION) {
            return msix.readPba(offset - MSIX_PBA, size);
        }
        return 0;
    }

    @Override
    public void write(long offset, int size, long value) {
        if (offset < COMMON + REGION) {
            writeCommon((int) offset, size, value);
        } else if (offset >= DEVICE_CONFIG && offset < DEVICE_CONFIG + REGION) {
            int at = (int) offset - DEVICE_CONFIG;
            if (at + size <= device.configSize()) {
                device.writeConfig(at, size, value);
            }
        } else if (offset >= NOTIFY && offset < NOTIFY + REGION) {
            // Reached only where no ioeventfd covers the register. The notifying vCPU serves the queue
            // to the end, pass by pass: its own time, spent on requests its guest made.
            long index = (offset - NOTIFY) / NOTIFY_MULTIPLIER;
            if (index < queues.size()) {
                while (queueNotified((int) index)) {
                    Thread.onSpinWait();
                }
            }
        } else if (offset >= MSIX_TABLE && offset < MSIX_PBA) {
            msix.writeTable(offset - MSIX_TABLE, size, value);
        }
    }

    private VirtQueue selected() {
        return queueSelect < queues.size() ? queues.get(queueSelect) : null;
    }

    private long readCommon(int offset, int size) {
        VirtQueue q = selected();
        long v = switch (offset) {
            case 0x00 -> deviceFeatureSelect;
            case 0x04 -> deviceFeatureSelect < 2 ? (offered >>> (32 * deviceFeatureSelect)) & 0xffff_ffffL : 0;
            case 0x08 -> driverFeatureSelect;
            case 0x0c -> driverFeatureSelect < 2 ? (driverFeatures >>> (32 * driverFeatureSelect)) & 0xffff_ffffL : 0;
            case 0x10 -> configVector;
            case 0x12 -> queues.size();
            case 0x14 -> status;
            case 0x15 -> configGeneration;
            case 0x16 -> queueSelect;
            case 0x18 -> q == null ? 0 : q.size();
            case 0x1a -> q == null ? NO_VECTOR : queueVector[queueSelect];
            case 0x1c -> q == null ? 0 : q.ready() ? 1 : 0;
            case 0x1e -> q == null ? 0 : queueSelect;
            case 0x20 -> q == null ? 0 : q.descTable();
            case 0x24 -> q == null ? 0 : q.descTable() >>> 32;
            case 0x28 -> q == null ? 0 : q.availRing();
            case 0x2c -> q == null ? 0 : q.availRing() >>> 32;
            case 0x30 -> q == null ? 0 : q.usedRing();
            case 0x34 -> q == null ? 0 : q.usedRing() >>> 32;
            default -> 0;
        };
        return v & mask(size);
    }

    private static long mask(int size) {
        return size >= 8 ? -1L : (1L << (8 * size)) - 1;
    }

    private void writeCommon(int offset, int size, long value) {
        int v32 = (int) value;
        VirtQueue q = selected();
        // Queue registers may change only before DRIVER_OK (virtio 1.x 4.1.4.3.2).
        boolean queueWritable = q != null && (status & STATUS_DRIVER_OK) == 0;
        switch (offset) {
            case 0x00 -> deviceFeatureSelect = v32;
            case 0x08 -> driverFeatureSelect = v32;
            case 0x0c -> {
                if ((status & STATUS_FEATURES_OK) == 0 && driverFeatureSelect < 2) {
                    int shift = 32 * driverFeatureSelect;
                    driverFeatures = (driverFeatures & ~(0xffff_ffffL << shift)) | ((value & 0xffff_ffffL) << shift);
                }
            }
            case 0x10 -> configVector = validVector(v32 & 0xffff);
            case 0x14 -> writeStatus(v32 & 0xff);
            case 0x16 -> queueSelect = v32 & 0xffff;
            case 0x18 -> {
                if (queueWritable) {
                    q.size(v32 & 0xffff);
                }
            }
            case 0x1a -> {
                if (q != null) {
                    queueVector[queueSelect] = validVector(v32 & 0xffff);
                }
            }
            case 0x1c -> {
                if (queueWritable && (v32 & 1) == 1) {
                    q.ready(true);
                }
            }
            case 0x20 -> { if (queueWritable) q.descTable(low(q.descTable(), value, size)); }
            case 0x24 -> { if (queueWritable) q.descTable(high(q.descTable(), value)); }
            case 0x28 -> { if (queueWritable) q.availRing(low(q.availRing(), value, size)); }
            case 0x2c -> { if (queueWritable) q.availRing(high(q.availRing(), value)); }
            case 0x30 -> { if (queueWritable) q.usedRing(low(q.usedRing(), value, size)); }
            case 0x34 -> { if (queueWritable) q.usedRing(high(q.usedRing(), value)); }
            default -> { }
        }
    }

    private static long low(long old, long value, int size) {
        return size == 8 ? value : (old & 0xffff_ffff_0000_0000L) | (value & 0xffff_ffffL);
    }

    private static long high(long old, long value) {
        return (old & 0xffff_ffffL) | (value << 32);
    }

    /** A vector the table has, or NO_VECTOR: the driver reads the register back to learn which. */
    private int validVector(int vector) {
        return vector < msix.vectors() ? vector : NO_VECTOR;
    }

    private void writeStatus(int value) {
        if (value == 0) {
            reset();
            return;
        }
        int added = value & ~status;
        if ((added & STATUS_FEATURES_OK) != 0) {
            // Accept only features offered, and only a modern driver.
            if ((driverFeatures & ~offered) != 0 || (driverFeatures & F_VERSION_1) == 0) {
                value &= ~STATUS_FEATURES_OK;
            }
        }
        if ((added & STATUS_DRIVER_OK) != 0 && (value & STATUS_FEATURES_OK) != 0 && !active) {
            status = value;
            activate();
            return;
        }
        status = value | (status & STATUS_NEEDS_RESET);
    }

    private void activate() {
        boolean eventIdx = (driverFeatures & F_EVENT_IDX) != 0;
        boolean indirect = (driverFeatures & F_INDIRECT_DESC) != 0;
        List<VirtQueue> enabled = new ArrayList<>(Collections.nCopies(queues.size(), (VirtQueue) null));
        for (int i = 0; i < queues.size(); i++) {
            VirtQueue q = queues.get(i);
            if (!q.ready()) {
                continue;
            }
            try {
                q.activate(memory, eventIdx, indirect);
                enabled.set(i, q);
            } catch (VirtQueueException e) {
                interrupt.needsReset("queue " + i + ": " + e.getMessage());
                return;
            }
        }
        active = true;
        device.activate(memory, enabled, driverFeatures, interrupt);
    }

    private void reset() {
        if (active) {
            device.reset();
        }
        active = false;
        for (VirtQueue q : queues) {
            q.reset();
        }
        java.util.Arrays.fill(queueVector, NO_VECTOR);
        configVector = NO_VECTOR;
        status = 0;
        driverFeatures = 0;
        deviceFeatureSelect = 0;
        driverFeatureSelect = 0;
        queueSelect = 0;
        isr = 0;
        intx.level(false);
    }

    /**
     * The driver notified queue {@code index} (through an ioeventfd, on the event loop, or an MMIO exit).
     * Returns true when the device stopped at its per-pass budget: call again after other work.
     */
    public boolean queueNotified(int index) {
        if (active && (status & STATUS_NEEDS_RESET) == 0 && index >= 0 && index < queues.size()
                && queues.get(index).ready()) {
            try {
                return device.queueNotified(index);
            } catch (RuntimeException | Error e) {
                failed("queue " + index, e);
            }
        }
        return false;
    }

    /**
     * As {@link #queueNotified}, for the event loop, which calls {@link #servePopped} as soon as it has
     * released this function's lock (see {@link VirtioDevice#queueNotifiedThenServe}).
     */
    public boolean queueNotifiedThenServe(int index) {
        if (active && (status & STATUS_NEEDS_RESET) == 0 && index >= 0 && index < queues.size()
                && queues.get(index).ready()) {
            try {
                return device.queueNotifiedThenServe(index);
            } catch (RuntimeException | Error e) {
                failed("queue " + index, e);
            }
        }
        return false;
    }

    /** Not under this function's lock: the work {@link #queueNotifiedThenServe} left on this thread. */
    public void servePopped() {
        try {
            device.servePopped();
        } catch (RuntimeException | Error e) {
            synchronized (this) {
                failed("a popped request", e);
            }
        }
    }

    /**
     * The device threw (a bug, or an Error such as a stack overflow on hostile input): its state is
     * unknown, so it stops (the device-side reset drops its queues, and a thread of its own stops
     * touching them) and the driver hears DEVICE_NEEDS_RESET; the VM's other devices go on.
     */
    private void failed(String where, Throwable e) {
        LOG.log(System.Logger.Level.ERROR, name + ": device failed on " + where, e);
        interrupt.needsReset("device failed on " + where + ": " + e);
        try {
            device.reset();
        } catch (RuntimeException | Error again) {
            LOG.log(System.Logger.Level.ERROR, name + ": device failed again while stopping", again);
        }
    }

    public boolean active() {
        return active;
    }

    /**
     * The transport as the guest left it: configuration space (command, BARs, MSI-X control), the MSI-X
     * table, the common configuration and each queue. The device behind it keeps its own state.
     *
     * @param deviceType the virtio device ID, so another device's state is refused by name
     */
    public record State(int deviceType, byte[] config, MsiXTable.State msix, int deviceFeatureSelect,
                        int driverFeatureSelect, long driverFeatures, int configVector, int status, int configGeneration,
                        int queueSelect, int isr, boolean active, int[] queueVector, java.util.List<VirtQueue.State> queues) {
        public State {
            if (queueVector.length != queues.size()) {
                throw new IllegalArgumentException(queueVector.length + " queue vectors for " + queues.size() + " queues");
            }
            if ((status & ~0xff) != 0 || (configGeneration & ~0xff) != 0 || (isr & ~3) != 0) {
                throw new IllegalArgumentException("status 0x" + Integer.toHexString(status) + ", generation "
                        + configGeneration + ", ISR " + isr + " do not fit their registers");
            }
            config = config.clone();
            queueVector = queueVector.clone();
            queues = java.util.List.copyOf(queues);
        }
    }

    @Override
    public Class<State> stateType() {
        return State.class;
    }

    @Override
    public synchronized State saveState() {
        List<VirtQueue.State> qs = new ArrayList<>();
        for (VirtQueue q : queues) {
            qs.add(q.state());
        }
        return new State(device.deviceType(), config.snapshot(), msix.state(), deviceFeatureSelect, driverFeatureSelect,
                driverFeatures, configVector, status, configGeneration, queueSelect, isr, active, queueVector, qs);
    }

    /**
     * Puts the transport back on a function just built for the same device: configuration space first
     * (so MSI-X's enable bit is there), then the table, whose unmasked vectors are routed again, then the
     * registers and queues; an active device is activated again on the restored queues, which resumes it
     * where its indices say. The caller remaps the BARs (PciRoot.remapAll), which moves the ioeventfds.
     */
    @Override
    public synchronized void restoreState(State s) {
        if (s.deviceType() != device.deviceType()) {
            throw new IllegalArgumentException("state of a virtio device of type " + s.deviceType() + ", not "
                    + device.deviceType());
        }
        if (s.queues().size() != queues.size() || s.msix().address().length != msix.vectors()) {
            throw new IllegalArgumentException("state of " + s.queues().size() + " queues and " + s.msix().address().length
                    + " MSI-X vectors, for a device with " + queues.size() + " and " + msix.vectors());
        }
        if ((s.driverFeatures() & ~offered) != 0) {
            throw new IllegalArgumentException("driver features 0x" + Long.toHexString(s.driverFeatures())
                    + " beyond the offered 0x" + Long.toHexString(offered));
        }
        config.restore(s.config());
        msix.restore(s.msix());
        deviceFeatureSelect = s.deviceFeatureSelect();
        driverFeatureSelect = s.driverFeatureSelect();
        driverFeatures = s.driverFeatures();
        configVector = validVector(s.configVector());
        status = s.status();
        configGeneration = s.configGeneration();
        queueSelect = s.queueSelect() & 0xffff;
        isr = s.isr();
        List<VirtQueue> enabled = new ArrayList<>(Collections.nCopies(queues.size(), (VirtQueue) null));
        for (int i = 0; i < queues.size(); i++) {
            queueVector[i] = validVector(s.queueVector()[i]);
            VirtQueue.State qs = s.queues().get(i);
            if (qs.active() && !s.active()) {
                throw new IllegalArgumentException("queue " + i + " is active on an inactive device");
            }
            try {
                queues.get(i).restore(qs, memory);
            } catch (VirtQueueException e) {
                throw new IllegalArgumentException("queue " + i + ": " + e.getMessage());
            }
            if (qs.active()) {
                enabled.set(i, queues.get(i));
            }
        }
        if (s.active()) {
            active = true;
            device.activate(memory, enabled, driverFeatures, interrupt);
        }
        if (isr != 0 && !msix.enabled()
                && (config.read(PciConfigSpace.COMMAND, 2) & PciConfigSpace.COMMAND_INTX_DISABLE) == 0) {
            intx.level(true);
        }
    }

    private final VirtioInterrupt interrupt = new VirtioInterrupt() {
        @Override
        public void queue(int index) {
            raise(index < queueVector.length ? queueVector[index] : NO_VECTOR, 1);
        }

        @Override
        public void config() {
            configGeneration = (configGeneration + 1) & 0xff;
            raise(configVector, 2);
        }

        @Override
        public void needsReset(String why) {
            LOG.log(System.Logger.Level.WARNING, name + ": device needs reset: " + why);
            status |= STATUS_NEEDS_RESET;
            raise(configVector, 2);
        }
    };

    /** MSI-X when the driver enabled it, else the ISR bit and the INTx line. */
    private void raise(int vector, int isrBit) {
        if (msix.enabled()) {
            if (vector != NO_VECTOR) {
                msix.signal(vector);
            }
            return;
        }
        isr |= isrBit;
        if ((config.read(PciConfigSpace.COMMAND, 2) & PciConfigSpace.COMMAND_INTX_DISABLE) == 0) {
            intx.level(true);
        }
    }
}
