package vessel.json;

import java.util.Objects;

/** A string (any Java string; the writer escapes what JSON needs). */
public record JsonString(String value) implements JsonValue {
    public JsonString {
        Objects.requireNonNull(value, "value");
    }

    @Override
    public String kind() {
        return "string";
    }

    @Override
    public String toString() {
        return toJson();
    }
}
