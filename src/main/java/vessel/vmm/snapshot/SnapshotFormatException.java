package vessel.vmm.snapshot;

/** A state file Vessel will not load: truncated, corrupted, of another version or for another VM. One line. */
public final class SnapshotFormatException extends Exception {
    public SnapshotFormatException(String message) {
        super(message);
    }
}
