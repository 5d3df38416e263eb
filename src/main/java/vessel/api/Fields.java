package vessel.api;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import vessel.json.JsonArray;
import vessel.json.JsonBoolean;
import vessel.json.JsonNull;
import vessel.json.JsonNumber;
import vessel.json.JsonObject;
import vessel.json.JsonString;
import vessel.json.JsonValue;

/**
 * The fields of one JSON object being bound to a Firecracker body, with serde's rules: an unknown field is
 * refused (unless the body ignores them, as a few of Firecracker's do), a required field must be there and
 * not null, an optional one absent or null reads as null, and no value is coerced ("2" is no number, 1 no
 * boolean, 2.5 or 2.0 no integer). Messages name the field with its path (rate_limiter.bandwidth.size).
 */
final class Fields {
    private final JsonObject object;
    private final String path;

    private Fields(JsonObject object, String path) {
        this.object = object;
        this.path = path;
    }

    /** The object {@code value} for struct {@code struct}, refusing any field not in {@code known}. */
    static Fields of(JsonValue value, String path, String struct, String... known) throws ApiException {
        Fields f = lenient(value, path, struct);
        Set<String> names = Set.of(known);
        for (String name : f.object.members().keySet()) {
            if (!names.contains(name)) {
                throw fail("unknown field `" + abbreviate(name) + "`, expected "
                        + Arrays.stream(known).sorted().map(n -> "`" + n + "`").collect(Collectors.joining(", ")));
            }
        }
        return f;
    }

    /** The object {@code value}, ignoring fields it does not know (Firecracker's structs without deny_unknown_fields). */
    static Fields lenient(JsonValue value, String path, String struct) throws ApiException {
        if (value instanceof JsonObject o) {
            return new Fields(o, path);
        }
        String where = path.isEmpty() ? "" : " for field `" + path + "`";
        throw fail("invalid type: " + describe(value) + ", expected struct " + struct + where);
    }

    static ApiException fail(String message) {
        return new ApiException(Json.PREFIX + message + ".");
    }

    /** serde's name for what a value is: "null", "sequence", "map", "string \"x\"", "integer `1`"... */
    static String describe(JsonValue v) {
        return switch (v) {
            case JsonNull n -> "null";
            case JsonArray a -> "sequence";
            case JsonObject o -> "map";
            case JsonBoolean b -> "boolean `" + b.value() + "`";
            case JsonString s -> "string \"" + abbreviate(s.value()) + "\"";
            case JsonNumber n -> (n.isIntegral() ? "integer `" : "floating point `") + n.abbreviated() + "`";
        };
    }

    private static String abbreviate(String s) {
        String one = s.replaceAll("\\p{Cntrl}", "?");
        return one.length() <= 40 ? one : one.substring(0, 37) + "...";
    }

    private String name(String field) {
        return path + field;
    }

    /** The value of {@code field}, null when absent or null. */
    private JsonValue optional(String field) {
        JsonValue v = object.members().get(field);
        return v instanceof JsonNull ? null : v;
    }

    private JsonValue required(String field) throws ApiException {
        JsonValue v = object.members().get(field);
        if (v == null) {
            throw fail("missing field `" + field + "`");
        }
        if (v instanceof JsonNull) {
            throw fail("invalid type: null for field `" + name(field) + "`");
        }
        return v;
    }

    private ApiException wrongType(String field, JsonValue found, String expected) {
        return fail("invalid type for field `" + name(field) + "`: " + describe(found) + ", expected " + expected);
    }

    String string(String field) throws ApiException {
        JsonValue v = optional(field);
        return v == null ? null : string(field, v);
    }

    String requiredString(String field) throws ApiException {
        return string(field, required(field));
    }

    private String string(String field, JsonValue v) throws ApiException {
        if (v instanceof JsonString s) {
            return s.value();
        }
        throw wrongType(field, v, "a string");
    }

    Boolean bool(String field) throws ApiException {
        JsonValue v = optional(field);
        return v == null ? null : bool(field, v);
    }

    Boolean requiredBool(String field) throws ApiException {
        return bool(field, required(field));
    }

    private Boolean bool(String field, JsonValue v) throws ApiException {
        if (v instanceof JsonBoolean b) {
            return b.value();
        }
        throw wrongType(field, v, "a boolean");
    }

    /** A 64-bit signed integer (the ranges of Firecracker's unsigned fields are checked where they are used). */
    Long int64(String field) throws ApiException {
        JsonValue v = optional(field);
        return v == null ? null : int64(field, v);
    }

    Long requiredInt64(String field) throws ApiException {
        return int64(field, required(field));
    }

    private Long int64(String field, JsonValue v) throws ApiException {
        if (!(v instanceof JsonNumber n) || !n.isIntegral()) {
            throw wrongType(field, v, "an integer");
        }
        if (!n.fitsLong()) {
            throw fail("invalid value: integer `" + n.abbreviated() + "`, expected i64 for field `" + name(field) + "`");
        }
        return n.longValue();
    }

    Integer int32(String field) throws ApiException {
        JsonValue v = optional(field);
        return v == null ? null : int32(field, v);
    }

    Integer requiredInt32(String field) throws ApiException {
        return int32(field, required(field));
    }

    private Integer int32(String field, JsonValue v) throws ApiException {
        if (!(v instanceof JsonNumber n) || !n.isIntegral()) {
            throw wrongType(field, v, "an integer");
        }
        if (!n.fitsLong() || n.longValue() != (int) n.longValue()) {
            throw fail("invalid value: integer `" + n.abbreviated() + "`, expected i32 for field `" + name(field) + "`");
        }
        return (int) n.longValue();
    }

    <E extends Enum<E>> E enumValue(String field, Class<E> type) throws ApiException {
        JsonValue v = optional(field);
        return v == null ? null : enumValue(field, v, type);
    }

    <E extends Enum<E>> E requiredEnum(String field, Class<E> type) throws ApiException {
        return enumValue(field, required(field), type);
    }

    private <E extends Enum<E>> E enumValue(String field, JsonValue v, Class<E> type) throws ApiException {
        String variants = Arrays.stream(type.getEnumConstants()).map(e -> "`" + e.name() + "`").sorted()
                .collect(Collectors.joining(", "));
        if (!(v instanceof JsonString s)) {
            throw wrongType(field, v, "one of " + variants);
        }
        for (E e : type.getEnumConstants()) {
            if (e.name().equals(s.value())) {
                return e;
            }
        }
        throw fail("unknown variant `" + abbreviate(s.value()) + "` for field `" + name(field) + "`, expected " + variants);
    }

    <T> T object(String field, Json.Reader<T> reader) throws ApiException {
        JsonValue v = optional(field);
        return v == null ? null : reader.read(v, name(field) + ".");
    }

    <T> T requiredObject(String field, Json.Reader<T> reader) throws ApiException {
        return reader.read(required(field), name(field) + ".");
    }

    <T> List<T> list(String field, Json.Reader<T> reader) throws ApiException {
        JsonValue v = optional(field);
        return v == null ? null : list(field, v, reader);
    }

    <T> List<T> requiredList(String field, Json.Reader<T> reader) throws ApiException {
        return list(field, required(field), reader);
    }

    private <T> List<T> list(String field, JsonValue v, Json.Reader<T> reader) throws ApiException {
        if (!(v instanceof JsonArray a)) {
            throw wrongType(field, v, "a sequence");
        }
        List<T> out = new ArrayList<>(a.elements().size());
        for (int i = 0; i < a.elements().size(); i++) {
            out.add(reader.read(a.elements().get(i), name(field) + "[" + i + "]."));
        }
        return out;
    }

    List<String> strings(String field) throws ApiException {
        return list(field, Fields::element);
    }

    List<String> requiredStrings(String field) throws ApiException {
        return requiredList(field, Fields::element);
    }

    /** A list element that must be a string (its path ends in "[i]."). */
    private static String element(JsonValue v, String path) throws ApiException {
        if (v instanceof JsonString s) {
            return s.value();
        }
        throw fail("invalid type for field `" + path.substring(0, path.length() - 1) + "`: " + describe(v)
                + ", expected a string");
    }

    /** An object of strings, in its order. */
    Map<String, String> stringMap(String field) throws ApiException {
        JsonValue v = optional(field);
        if (v == null) {
            return null;
        }
        if (!(v instanceof JsonObject o)) {
            throw wrongType(field, v, "a map");
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<String, JsonValue> e : o.members().entrySet()) {
            if (!(e.getValue() instanceof JsonString s)) {
                throw fail("invalid type for field `" + name(field) + "." + e.getKey() + "`: " + describe(e.getValue())
                        + ", expected a string");
            }
            out.put(e.getKey(), s.value());
        }
        return out;
    }
}
