package vessel.devices.virtio;

import java.util.List;

import vessel.devices.DeviceMetrics;
import vessel.devices.PauseGate;
import vessel.memory.GuestMemory;

/**
 * A virtio device model (block, entropy, ...), independent of the transport that presents it to the
 * guest. The PCI transport ({@code vessel.devices.pci.VirtioPciFunction}) owns feature negotiation, the
 * status state machine and the queues' registers; a device sees only what it needs: its features,
 * its configuration space, and its queues once the driver has set DRIVER_OK.
 *
 * <p>Threads: configuration reads and writes come from vCPU threads; {@link #activate},
 * {@link #queueNotified} and {@link #reset} are called by the transport under its own lock or on the
 * VM's event-loop thread, never concurrently for one device.
 */
public interface VirtioDevice {
    /** The virtio device ID (virtio 1.x section 5): 2 block, 4 entropy, 1 network, 19 socket. */
    int deviceType();

    /** Device-specific feature bits offered (the transport adds VERSION_1, INDIRECT_DESC, EVENT_IDX). */
    long deviceFeatures();

    /** How many virtqueues the device has. */
    int queueCount();

    /** The largest size the driver may give each queue (a power of two, at most 32768). */
    int queueMaxSize();

    /** Bytes of device-specific configuration space. */
    int configSize();

    /** The configuration space as the driver would read it now: {@link #configSize} bytes, fields little-endian. */
    byte[] configSpace();

    /** Reads {@code size} (1, 2, 4 or 8) bytes of configuration space at {@code offset}; 0 out of range. */
    default long readConfig(int offset, int size) {
        return ConfigSpace.read(configSpace(), offset, size);
    }

    /** Writes configuration space; most devices ignore it. */
    void writeConfig(int offset, int size, long value);

    /**
     * The driver set DRIVER_OK: start serving {@code queues} (indexed like the device's queues; one is
     * null if the driver did not enable it) in {@code memory}, with the features the driver accepted.
     */
    void activate(GuestMemory memory, List<VirtQueue> queues, long ackedFeatures, VirtioInterrupt interrupt);

    /**
     * The driver notified queue {@code index}: there are buffers to consume. Runs off the vCPU threads.
     * Serves at most a pass's worth of chains; returns true when it stopped there with chains left, and
     * the caller calls again once the VM's other devices have had their turn.
     */
    boolean queueNotified(int index);

    /**
     * As {@link #queueNotified}, for a caller that calls {@link #servePopped} on this same thread as soon as
     * it has released the transport lock: the device may leave the requests it popped for that call, so
     * their work is done off the lock without a hand-off to another thread (virtio-blk's cached I/O).
     */
    default boolean queueNotifiedThenServe(int index) {
        return queueNotified(index);
    }

    /** With no lock held, right after {@link #queueNotifiedThenServe}: does the work it left on this thread. */
    default void servePopped() {
    }

    /** The driver reset the device: drop every queue and return to the state before activation. */
    void reset();

    /**
     * The lock the transport holds while it calls {@link #activate}, {@link #queueNotified} and
     * {@link #reset} (for PCI, the {@code VirtioPciFunction} object), given once before the device is used.
     * A device that also works its queues from a thread of its own (socket or TAP readiness filling the
     * receive queue) must hold this lock for that work, so it never races a reset or a notification;
     * devices driven only by notifications ignore it.
     */
    default void transportLock(Object lock) {
    }

    /**
     * The VM's pause gate, given once before the device is used. A device with a thread of its own does
     * each pass of that thread's queue work inside it ({@link PauseGate#enter}, then the transport lock),
     * so a paused VM sees no guest memory touched and no interrupt from it; devices driven only by
     * notifications ignore it (the event loop that notifies them goes through the same gate).
     */
    default void pauseGate(PauseGate gate) {
    }

    /**
     * How the device's rate-limited queues resume (see {@link QueueTimer}), given once before the device
     * is used; devices without rate limiters ignore it.
     */
    default void queueTimer(QueueTimer timer) {
    }

    /**
     * The device's counters now, as totals since it was made, under its configured {@code id}; null for
     * a kind without metrics. The one way the VMM samples a device, whatever its class.
     */
    default DeviceMetrics metrics(String id) {
        return null;
    }
}
