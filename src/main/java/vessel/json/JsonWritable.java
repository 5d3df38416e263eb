package vessel.json;

/** A type that gives its own JSON form (an API body, say): written out explicitly, never by reflection. */
public interface JsonWritable {
    JsonValue toJson();
}
