package vessel.devices.virtio;

/** How a device tells the driver something; the transport maps it to MSI-X vectors or INTx. */
public interface VirtioInterrupt {
    /** Used buffers were added to queue {@code index} (call only when {@link VirtQueue#needsNotification()}). */
    void queue(int index);

    /** The device configuration changed. */
    void config();

    /**
     * The device hit an error it cannot recover from without a reset (a malformed queue, say): the
     * transport sets DEVICE_NEEDS_RESET and sends a configuration interrupt, as virtio 1.x 2.1.2 says.
     */
    void needsReset(String why);
}
