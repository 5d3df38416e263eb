package vessel.vmm.snapshot;

/** A state file Vessel will not load: truncated, corrupted, of another version or for another VM. One line. */
public final class SnapshotFormatException extends Exception {
    /** The message may quote bytes of a hostile file: it is kept to one line (control characters as '?'). */
    public SnapshotFormatException(String message) {
        super(message == null ? null : message.replaceAll("\\p{Cntrl}", "?"));
    }
}
