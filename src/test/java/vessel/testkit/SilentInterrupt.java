package vessel.testkit;

import vessel.devices.virtio.VirtioInterrupt;

/**
 * A device's interrupts for tests that count its allocations: queue and config interrupts go nowhere and
 * allocate nothing (a recording one would add to the count), and a device asking to be reset fails the test.
 */
public final class SilentInterrupt implements VirtioInterrupt {
    public static final SilentInterrupt INSTANCE = new SilentInterrupt();

    private SilentInterrupt() {
    }

    @Override
    public void queue(int index) {
    }

    @Override
    public void config() {
    }

    @Override
    public void needsReset(String why) {
        throw new AssertionError("device needs reset: " + why);
    }
}
