package vessel.devices.virtio;

import java.lang.System.Logger.Level;
import java.util.function.Supplier;

/**
 * A virtio device's own thread (net's receive loop, vsock's sockets). Anything thrown past the loop's own
 * handling (a bug, or an Error) stops the thread: the device is reported and marked as needing reset, so
 * the driver sees it and the VM goes on, instead of the thread ending silently with the device stuck.
 */
final class DeviceThread {
    private static final System.Logger LOG = System.getLogger("vessel.devices");

    private DeviceThread() {}

    /** Starts {@code loop} on a daemon platform thread named {@code device}. */
    static Thread start(String device, Runnable loop, Object lock, Supplier<VirtioInterrupt> interrupt) {
        return Thread.ofPlatform().name(device).daemon(true).start(() -> {
            try {
                loop.run();
            } catch (RuntimeException | Error e) {
                String why = device + ": device thread failed: " + e;
                LOG.log(Level.ERROR, why + "; device stopped until the driver resets it", e);
                synchronized (lock) {
                    VirtioInterrupt i = interrupt.get();
                    if (i != null) {
                        i.needsReset(why);
                    }
                }
            }
        });
    }
}
