package vessel.gdb;

import vessel.kvm.Regs;
import vessel.kvm.Sregs;

/**
 * What the GDB commands need of the machine being debugged, so they can be tested without KVM. The VM's
 * implementation is {@link VmTarget}. Register and memory calls are valid only while stopped.
 */
interface DebugTarget {
    /** What {@link #awaitEvent} saw: the target stopped (a signal number for GDB) or ended. */
    sealed interface Event {}

    record Stopped(int signal) implements Event {}

    record Exited(int status) implements Event {}

    int SIGINT = 2;
    int SIGTRAP = 5;

    /** Stops the target (the client attached); returns the stop to report. */
    Event attach() throws Exception;

    Regs registers() throws Exception;

    Sregs segments() throws Exception;

    void setRegisters(Regs regs) throws Exception;

    /** Up to {@code len} bytes at a guest-virtual address; shorter (or empty) where memory is unmapped. */
    byte[] readMemory(long address, int len) throws Exception;

    void writeMemory(long address, byte[] data) throws Exception;

    /** Sets a breakpoint at an instruction address; false when none can be set (all slots in use). */
    boolean insertBreakpoint(long address);

    boolean removeBreakpoint(long address);

    void resume(boolean step) throws Exception;

    void interrupt() throws Exception;

    /** Waits up to {@code millis} for a stop or the end; null if neither came. */
    Event awaitEvent(long millis) throws Exception;

    /** Lets the target run on without the debugger. */
    void detach() throws Exception;

    void kill();
}
