package vessel.devices;

/**
 * A device whose whole guest-visible state is one immutable record: {@link #saveState()} takes it (the VM
 * is paused), {@link #restoreState} puts a freshly built device in that state. The VMM saves and restores
 * every device through this interface alone, never by its class.
 *
 * @param <S> the state record; its constructor refuses impossible state (a snapshot file is input)
 */
public interface Snapshottable<S extends Record> {
    /** The record type, so a saved state can be decoded before the device sees it. */
    Class<S> stateType();

    S saveState();

    /** Takes {@code state} on a device just built with the same configuration; nothing has run yet. */
    void restoreState(S state);
}
