package vessel.vmm.x86;

/** Bytes the decoder does not understand (or too few of them); the message says which. */
public final class DecodeException extends Exception {
    public DecodeException(String message) {
        super(message);
    }
}
