/**
 * JSON, RFC 8259, without dependencies: a value type ({@link vessel.json.JsonValue}, records), a strict parser
 * with limits for bytes from API clients and the MMDS ({@link vessel.json.JsonParser}), a compact writer
 * ({@link vessel.json.JsonWriter}) and RFC 6901 pointers ({@link vessel.json.JsonPointer}). A leaf package:
 * it uses nothing of Vessel. It replaced Jackson, whose ~490 classes were loaded before the API's first answer.
 */
package vessel.json;
