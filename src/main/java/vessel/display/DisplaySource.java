package vessel.display;

import vessel.devices.display.Display;

/**
 * The display a server shows now: the running guest's, which changes object when the guest is booted again
 * (a reset with --reboot restart); null between guests or for a guest without one.
 */
@FunctionalInterface
public interface DisplaySource {
    Display current();
}
