package vessel.vmm;

/** Bad user input: a missing file, a malformed size, an impossible setting. The message is one line naming it. */
public final class ConfigException extends Exception {
    public ConfigException(String message) {
        super(message);
    }
}
