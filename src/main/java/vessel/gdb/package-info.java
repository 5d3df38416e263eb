/**
 * A GDB remote serial protocol stub over TCP ({@code vessel run --gdb HOST:PORT}): packet codec
 * ({@link vessel.gdb.PacketReader}), the x86-64 register layout GDB expects ({@link vessel.gdb.GdbRegisters}),
 * the commands ({@link vessel.gdb.GdbSession}) over a {@link vessel.gdb.DebugTarget}, and the server that
 * binds that target to a VM's {@link vessel.vmm.GuestDebugger}. The client is untrusted: packets are
 * bounded, every number is checked, and a malformed packet gets an error reply, never an exception.
 */
package vessel.gdb;
