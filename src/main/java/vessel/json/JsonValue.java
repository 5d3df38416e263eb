package vessel.json;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A JSON value: an object (members in insertion order), an array, a string, a number (its exact text), a
 * boolean or null. Values are immutable, so a document can be published to other threads as is.
 */
public sealed interface JsonValue permits JsonObject, JsonArray, JsonString, JsonNumber, JsonBoolean, JsonNull {

    /** The value as compact JSON text (no spaces), as {@link JsonWriter} writes it. */
    default String toJson() {
        return JsonWriter.write(this);
    }

    /** A short name of the kind, for messages: "object", "array", "string", "number", "boolean", "null". */
    String kind();

    /**
     * The JSON value of a plain Java value: null, a JsonValue, a {@link JsonWritable}, String, Boolean,
     * Integer/Long/Short/Byte/BigInteger/BigDecimal, a finite Double/Float, an enum (its name), a Map with
     * String keys (in its iteration order) or a Collection. Anything else is refused (no reflection).
     */
    static JsonValue of(Object value) {
        return switch (value) {
            case null -> JsonNull.INSTANCE;
            case JsonValue v -> v;
            case JsonWritable w -> w.toJson();
            case String s -> new JsonString(s);
            case Boolean b -> JsonBoolean.of(b);
            case Integer i -> JsonNumber.of(i);
            case Long l -> JsonNumber.of(l);
            case Short s -> JsonNumber.of(s);
            case Byte b -> JsonNumber.of(b);
            case BigInteger b -> new JsonNumber(b.toString());
            case BigDecimal b -> new JsonNumber(b.toString());
            case Double d -> JsonNumber.of(d);
            case Float f -> JsonNumber.of(f.doubleValue());
            case Enum<?> e -> new JsonString(e.name());
            case Map<?, ?> m -> {
                Map<String, JsonValue> members = new LinkedHashMap<>();
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    if (!(e.getKey() instanceof String key)) {
                        throw new IllegalArgumentException("a JSON object's keys are strings, not " + e.getKey());
                    }
                    members.put(key, of(e.getValue()));
                }
                yield new JsonObject(members);
            }
            case Collection<?> c -> new JsonArray(c.stream().map(JsonValue::of).toList());
            default -> throw new IllegalArgumentException("no JSON form for " + value.getClass().getName());
        };
    }

    /** Parses {@code text} with the default limits; duplicate keys refused. */
    static JsonValue parse(String text) throws JsonException {
        return JsonParser.parse(text.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    /** Parses UTF-8 {@code bytes} with the default limits; duplicate keys refused. */
    static JsonValue parse(byte[] bytes) throws JsonException {
        return JsonParser.parse(bytes);
    }

    /** The member {@code name} of an object, or null when this is no object or has no such member. */
    default JsonValue get(String name) {
        return this instanceof JsonObject o ? o.members().get(name) : null;
    }

    /** Element {@code index} of an array, or null when this is no array or the index is out of range. */
    default JsonValue get(int index) {
        return this instanceof JsonArray a && index >= 0 && index < a.elements().size() ? a.elements().get(index) : null;
    }

    /** The text of a string, or null when this is no string. */
    default String asString() {
        return this instanceof JsonString s ? s.value() : null;
    }

    /** The value of an integral number within i64; IllegalStateException for anything else. */
    default long asLong() {
        if (this instanceof JsonNumber n && n.fitsLong()) {
            return n.longValue();
        }
        throw new IllegalStateException("not an integer within i64: " + this);
    }

    /**
     * Plain Java, as Jackson's untyped binding gives it (for tests and messages): null, String, Boolean,
     * Map (in order), List, and for a number the narrowest of Integer, Long and BigInteger when it is
     * integral, a Double otherwise.
     */
    default Object toPlain() {
        return switch (this) {
            case JsonNull n -> null;
            case JsonString s -> s.value();
            case JsonBoolean b -> b.value();
            case JsonNumber n -> plain(n);
            case JsonArray a -> a.elements().stream().map(JsonValue::toPlain).toList();
            case JsonObject o -> {
                Map<String, Object> m = new LinkedHashMap<>();
                o.members().forEach((k, v) -> m.put(k, v.toPlain()));
                yield m;
            }
        };
    }

    private static Object plain(JsonNumber n) {
        if (n.fitsLong()) {
            long l = n.longValue();
            return l == (int) l ? (Object) (int) l : (Object) l;
        }
        return n.isIntegral() ? new BigInteger(n.text()) : (Object) n.doubleValue();
    }

    /** Convenience for code that builds values. */
    static JsonArray array(List<? extends JsonValue> elements) {
        return new JsonArray(List.copyOf(elements));
    }
}
