package vessel.devices.virtio;

/**
 * The driver broke the virtqueue contract: a bad ring index, descriptor, address or table. The message
 * names what was wrong (head, descriptor index, address) so a log line is enough to debug the driver.
 * Checked, because every caller must decide how to stop the queue instead of letting it escape to a
 * vCPU or event-loop thread.
 */
public final class VirtQueueException extends Exception {
    public VirtQueueException(String message) {
        super(message);
    }
}
