package vessel.api;

import java.io.IOException;
import java.util.Arrays;
import java.util.Collection;
import java.util.Locale;
import java.util.stream.Collectors;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.InvalidNullException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.type.LogicalType;

/**
 * JSON as strict as Firecracker's serde: unknown fields, duplicate keys, trailing data and type coercions
 * ("2" for a number, 1 for a boolean, 2.5 for an integer) are all refused, and each failure becomes one
 * line that names the field, in the shape of Firecracker's own message.
 */
final class Json {
    static final String PREFIX = "An error occurred when deserializing the json body of a request: ";

    private static final ObjectMapper MAPPER = build();
    /** For free-form documents: trailing data refused, duplicate keys allowed (the last wins, as in serde_json). */
    private static final ObjectMapper TREE = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).build();

    private Json() {}

    private static ObjectMapper build() {
        JsonMapper mapper = JsonMapper.builder()
                .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
                .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
                .enable(DeserializationFeature.FAIL_ON_NUMBERS_FOR_ENUMS)
                .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
                .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
                .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                .build();
        for (LogicalType type : new LogicalType[] {LogicalType.Integer, LogicalType.Float, LogicalType.Boolean,
                LogicalType.Textual, LogicalType.Enum}) {
            mapper.coercionConfigFor(type)
                    .setCoercion(CoercionInputShape.String, type == LogicalType.Textual || type == LogicalType.Enum
                            ? CoercionAction.TryConvert : CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.Integer, type == LogicalType.Integer || type == LogicalType.Float
                            ? CoercionAction.TryConvert : CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.Float, type == LogicalType.Float ? CoercionAction.TryConvert
                            : CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.Boolean, type == LogicalType.Boolean ? CoercionAction.TryConvert
                            : CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.EmptyString, CoercionAction.Fail);
        }
        return mapper;
    }

    /** Reads {@code body} as a {@code type}, or fails with Firecracker's "deserializing" message. */
    static <T> T read(byte[] body, Class<T> type) throws ApiException {
        try {
            T value = MAPPER.readValue(body, type);
            if (value == null) {
                throw new ApiException(PREFIX + "invalid type: null, expected struct " + type.getSimpleName() + ".");
            }
            return value;
        } catch (JsonProcessingException e) {
            throw new ApiException(PREFIX + describe(e) + ".");
        } catch (IOException e) {
            throw new ApiException(PREFIX + e.getMessage() + ".");
        }
    }

    /** Any JSON value (the MMDS document), parsed as serde_json's Value would take it. */
    static com.fasterxml.jackson.databind.JsonNode readTree(byte[] body) throws ApiException {
        try {
            com.fasterxml.jackson.databind.JsonNode node = TREE.readTree(body);
            if (node == null || node.isMissingNode()) {
                throw new ApiException(PREFIX + "EOF while parsing a value at line 1 column 0.");
            }
            return node;
        } catch (JsonProcessingException e) {
            throw new ApiException(PREFIX + describe(e) + ".");
        } catch (IOException e) {
            throw new ApiException(PREFIX + e.getMessage() + ".");
        }
    }

    static byte[] write(Object value) {
        try {
            return MAPPER.writeValueAsBytes(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write " + value.getClass().getSimpleName() + " as JSON", e);
        }
    }

    static String writeString(Object value) {
        try {
            return MAPPER.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write " + value.getClass().getSimpleName() + " as JSON", e);
        }
    }

    /** One line for what went wrong, naming the field and the position, without Jackson's class names. */
    static String describe(JsonProcessingException e) {
        String where = location(e.getLocation());
        if (e instanceof UnrecognizedPropertyException u) {
            return "unknown field `" + u.getPropertyName() + "`, expected " + oneOf(u.getKnownPropertyIds()) + where;
        }
        if (e instanceof ValueInstantiationException v && v.getCause() != null) {
            return v.getCause().getMessage() + where;
        }
        if (e instanceof JsonMappingException m) {
            String field = field(m);
            if (e instanceof InvalidNullException) {
                return "invalid type: null for field `" + field + "`" + where;
            }
            if (e instanceof InvalidFormatException f && f.getTargetType() != null && f.getTargetType().isEnum()) {
                return "unknown variant `" + f.getValue() + "` for field `" + field + "`, expected "
                        + oneOf(Arrays.asList(f.getTargetType().getEnumConstants())) + where;
            }
            String original = m.getOriginalMessage();
            if (original.startsWith("Missing required creator property")) {
                int q = original.indexOf('\'');
                String name = q >= 0 ? original.substring(q + 1, original.indexOf('\'', q + 1)) : "?";
                return "missing field `" + name + "`" + where;
            }
            if (e instanceof MismatchedInputException mi && mi.getTargetType() != null) {
                return "invalid type for field `" + field + "`: expected " + expected(mi.getTargetType()) + where;
            }
            return firstLine(original) + where;
        }
        return firstLine(e.getOriginalMessage()) + where;
    }

    private static String field(JsonMappingException e) {
        return e.getPath().stream()
                .map(r -> r.getFieldName() != null ? r.getFieldName() : "[" + r.getIndex() + "]")
                .collect(Collectors.joining(".")).replace(".[", "[");
    }

    private static String expected(Class<?> type) {
        if (type == Integer.class || type == int.class || type == Long.class || type == long.class) {
            return "an integer";
        }
        if (type == Boolean.class || type == boolean.class) {
            return "a boolean";
        }
        if (type == String.class) {
            return "a string";
        }
        if (Collection.class.isAssignableFrom(type)) {
            return "a sequence";
        }
        if (type.isEnum()) {
            return "one of " + oneOf(Arrays.asList(type.getEnumConstants()));
        }
        return "an object";
    }

    private static String oneOf(Collection<?> names) {
        return names.stream().map(n -> "`" + n + "`").sorted().collect(Collectors.joining(", "));
    }

    private static String firstLine(String message) {
        String line = message == null ? "malformed JSON" : message.lines().findFirst().orElse("malformed JSON");
        // Jackson names its own classes in some messages; the client only needs the JSON-level fact.
        return line.replaceAll("\\s*\\((start marker at )?\\[Source:[^]]*]\\)", "")
                .replaceAll("`[a-z]+(\\.[a-zA-Z$]+)+`", "value").replace("com.fasterxml.jackson.", "");
    }

    private static String location(JsonLocation loc) {
        if (loc == null || loc.getLineNr() < 0) {
            return "";
        }
        return String.format(Locale.ROOT, " at line %d column %d", loc.getLineNr(), loc.getColumnNr());
    }
}
