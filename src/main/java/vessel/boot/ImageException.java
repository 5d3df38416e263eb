package vessel.boot;

/** A kernel, initrd or other boot image that cannot be used; the message names the file and the problem. */
public final class ImageException extends Exception {
    public ImageException(String message) {
        super(message);
    }

    /** For a problem a library reported (a corrupt compressed stream, say): its exception stays the cause. */
    public ImageException(String message, Throwable cause) {
        super(message, cause);
    }
}
