package vessel.devices.virtio;

/**
 * How a device whose queue a rate limiter stopped gets going again: the VMM notifies the queue once
 * more ({@link VirtioDevice#queueNotified}, on the VM's event loop and through its pause gate) after the
 * delay, as if the driver had. The device never waits or spins for tokens itself.
 */
@FunctionalInterface
public interface QueueTimer {
    /** Notifies queue {@code queue} again in about {@code nanos} nanoseconds (0: as soon as it can). */
    void wakeAfter(int queue, long nanos);

    /** For devices no VMM wired: a stopped queue goes on at the driver's next notification only. */
    QueueTimer NONE = (queue, nanos) -> { };
}
