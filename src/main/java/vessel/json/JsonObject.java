package vessel.json;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/** An object: members in insertion order, unmodifiable. */
public record JsonObject(Map<String, JsonValue> members) implements JsonValue {
    public static final JsonObject EMPTY = new JsonObject(Map.of());

    public JsonObject {
        for (Map.Entry<String, JsonValue> e : members.entrySet()) {
            if (e.getKey() == null || e.getValue() == null) {
                throw new NullPointerException("a JSON object member has a null key or value (JsonNull for null)");
            }
        }
        members = Collections.unmodifiableMap(new LinkedHashMap<>(members));
    }

    @Override
    public String kind() {
        return "object";
    }

    @Override
    public String toString() {
        return toJson();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Builds an object member by member, in order; values go through {@link JsonValue#of}. */
    public static final class Builder {
        private final Map<String, JsonValue> members = new LinkedHashMap<>();

        /** Adds {@code name}, null as JSON null. */
        public Builder put(String name, Object value) {
            members.put(name, JsonValue.of(value));
            return this;
        }

        /** Adds {@code name} unless {@code value} is null (an optional field left out). */
        public Builder putPresent(String name, Object value) {
            if (value != null) {
                members.put(name, JsonValue.of(value));
            }
            return this;
        }

        /** Adds {@code name} unless {@code value} is null, an empty collection or an empty map. */
        public Builder putNonEmpty(String name, Object value) {
            if (value instanceof java.util.Collection<?> c && c.isEmpty() || value instanceof Map<?, ?> m && m.isEmpty()) {
                return this;
            }
            return putPresent(name, value);
        }

        public JsonObject build() {
            return new JsonObject(members);
        }
    }
}
