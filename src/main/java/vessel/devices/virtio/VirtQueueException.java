package vessel.devices.virtio;

/** Placeholder (branch wt-virtio has the real one). */
public final class VirtQueueException extends Exception {
    public VirtQueueException(String message) {
        super(message);
    }
}
