package vessel.json;

/**
 * Text that is not JSON, or over a limit: one line that says what and where (line and column, 1-based).
 * An IOException, as malformed input met while reading is (as CharacterCodingException is).
 */
public final class JsonException extends java.io.IOException {
    private static final long serialVersionUID = 1L;
    private final int line;
    private final int column;

    public JsonException(String message, int line, int column) {
        super(message + " at line " + line + " column " + column);
        this.line = line;
        this.column = column;
    }

    public int line() {
        return line;
    }

    public int column() {
        return column;
    }
}
