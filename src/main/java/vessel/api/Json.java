package vessel.api;

import vessel.json.JsonException;
import vessel.json.JsonParser;
import vessel.json.JsonValue;
import vessel.json.JsonWritable;
import vessel.json.JsonWriter;

/**
 * JSON as strict as Firecracker's serde: the text is parsed by {@link JsonParser} (trailing data and,
 * for request bodies, duplicate keys refused), then each body is bound field by field by its record's
 * {@code fromJson} ({@link Fields}: unknown fields, missing or null required fields and wrong types
 * refused). Every failure becomes one line that names the field, in the shape of Firecracker's message.
 */
final class Json {
    static final String PREFIX = "An error occurred when deserializing the json body of a request: ";

    private Json() {}

    /** Binds one body: {@code path} is the field path so far ("" at the top), for messages. */
    @FunctionalInterface
    interface Reader<T> {
        T read(JsonValue value, String path) throws ApiException;
    }

    /** Reads {@code body} with {@code reader}, or fails with Firecracker's "deserializing" message. */
    static <T> T read(byte[] body, Reader<T> reader) throws ApiException {
        return reader.read(parse(body, JsonParser.Duplicates.REJECT), "");
    }

    /** Any JSON value (the MMDS document), as serde_json's Value takes it: a repeated key's last value wins. */
    static JsonValue readTree(byte[] body) throws ApiException {
        return parse(body, JsonParser.Duplicates.LAST_WINS);
    }

    private static JsonValue parse(byte[] body, JsonParser.Duplicates duplicates) throws ApiException {
        try {
            return JsonParser.parse(body, JsonParser.Limits.DEFAULT, duplicates);
        } catch (JsonException e) {
            throw new ApiException(PREFIX + e.getMessage() + ".");
        }
    }

    static byte[] write(JsonWritable value) {
        return JsonWriter.writeBytes(value.toJson());
    }

    static String writeString(Object value) {
        return JsonWriter.write(JsonValue.of(value));
    }
}
