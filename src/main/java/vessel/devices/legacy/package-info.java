/** PC legacy devices as pure register state machines: 16550A UART, i8042, debug-exit port. */
package vessel.devices.legacy;
