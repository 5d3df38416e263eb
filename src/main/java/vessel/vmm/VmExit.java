package vessel.vmm;

/**
 * How a VM ended, and the process status that stands for it.
 *
 * @param status process exit status: 0 for an orderly end, (V << 1) | 1 for debug-exit value V, 1 for an error
 * @param reason what ended it
 * @param detail a human-readable line (the error, for {@link Reason#ERROR})
 */
public record VmExit(int status, Reason reason, String detail) {
    public enum Reason {
        /** The guest wrote to the debug-exit port. */
        DEBUG_EXIT,
        /** The guest reset the machine (i8042, triple fault, KVM reset event) and reboot means stop. */
        RESET,
        /** The guest powered off. */
        POWER_OFF,
        /** Every vCPU halted with nothing left to wake it. */
        HALTED,
        /** The host asked the VM to stop. */
        STOPPED,
        /** The VM could not go on: an emulation failure, a failed entry, a host error. */
        ERROR
    }

    public static VmExit error(String detail) {
        return new VmExit(1, Reason.ERROR, detail);
    }
}
