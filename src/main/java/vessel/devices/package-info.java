/**
 * Device buses and the interfaces devices see. A device is a state machine with {@code read} and
 * {@code write} on offsets from its own base; it never learns about KVM, ports or other devices.
 * Side effects (an interrupt, output bytes, a reset) come in through its constructor.
 */
package vessel.devices;
