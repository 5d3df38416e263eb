package vessel.vmm.control;

/**
 * An action the controller refused or could not carry out: the phase does not allow it, the VM's devices
 * refused it, or the host failed. {@code status} is the HTTP status a front end answers with (400 unless
 * said otherwise: 413 for an MMDS document over its limit), as Firecracker's VmmActionError maps to one.
 */
public class VmmActionException extends Exception {
    private final int status;
    private final boolean hostFailure;

    public VmmActionException(String message) {
        this(400, message);
    }

    public VmmActionException(int status, String message) {
        this(status, message, false);
    }

    protected VmmActionException(int status, String message, boolean hostFailure) {
        super(message);
        this.status = status;
        this.hostFailure = hostFailure;
    }

    /** The host could not do it (no KVM, an I/O error), as opposed to a request that was wrong. */
    public static VmmActionException hostFailure(String message) {
        return new VmmActionException(400, message, true);
    }

    public final boolean hostFailure() {
        return hostFailure;
    }

    public final int status() {
        return status;
    }
}
