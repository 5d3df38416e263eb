package vessel.json;

/** JSON's null. */
public record JsonNull() implements JsonValue {
    public static final JsonNull INSTANCE = new JsonNull();

    @Override
    public String kind() {
        return "null";
    }

    @Override
    public String toString() {
        return "null";
    }
}
