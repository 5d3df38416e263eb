/**
 * What firmware expects of a QEMU-like PC: QEMU's fw_cfg interface (selector, data and DMA ports), as a
 * register state machine over the guest memory it copies into.
 */
package vessel.devices.firmware;
