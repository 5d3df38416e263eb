package vessel.api;

/**
 * A request that cannot be carried out: bad input, or an action the microVM's state does not allow. The
 * API answers it with {@code status} (400 unless said otherwise) and {@code {"fault_message": message}};
 * the config file path reports the message as one line.
 */
public final class ApiException extends Exception {
    private final int status;
    private final boolean hostFailure;

    public ApiException(String message) {
        this(400, message);
    }

    public ApiException(int status, String message) {
        this(status, message, false);
    }

    private ApiException(int status, String message, boolean hostFailure) {
        super(message);
        this.status = status;
        this.hostFailure = hostFailure;
    }

    /** The host could not do it (no KVM, an I/O error), as opposed to a request that was wrong. */
    static ApiException hostFailure(String message) {
        return new ApiException(400, message, true);
    }

    /** The controller's refusal, as the API answers it: same status, same message. */
    static ApiException from(vessel.vmm.control.VmmActionException e) {
        return new ApiException(e.status(), e.getMessage(), e.hostFailure());
    }

    public boolean hostFailure() {
        return hostFailure;
    }

    public int status() {
        return status;
    }
}
