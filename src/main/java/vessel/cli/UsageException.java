package vessel.cli;

/** A command line that cannot be understood; the message says what to change. */
final class UsageException extends Exception {
    UsageException(String message) {
        super(message);
    }
}
