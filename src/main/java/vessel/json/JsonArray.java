package vessel.json;

import java.util.List;

/** An array; the list is unmodifiable (copied when it is not already). */
public record JsonArray(List<JsonValue> elements) implements JsonValue {
    public JsonArray {
        elements = List.copyOf(elements);
    }

    @Override
    public String kind() {
        return "array";
    }

    @Override
    public String toString() {
        return toJson();
    }
}
