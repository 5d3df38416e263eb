/**
 * PC legacy devices as pure register state machines: 16550A UART, i8042, debug-exit port, and the ACPI
 * sleep/reset register.
 */
package vessel.devices.legacy;
