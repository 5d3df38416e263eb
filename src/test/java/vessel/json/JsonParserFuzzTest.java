package vessel.json;

import java.nio.charset.StandardCharsets;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * The JSON parser on any bytes (what API clients and MMDS writers send): it returns a value or throws a
 * one-line JsonException, nothing else, within small limits; what it accepts is written back and parses
 * to the same value (the writer's output is JSON the parser takes), in both duplicate-key modes.
 */
class JsonParserFuzzTest {
    private static final JsonParser.Limits SMALL = new JsonParser.Limits(4096, 16, 512, 64);

    @FuzzTest(maxDuration = "5s")
    void parseAndWriteBack(FuzzedDataProvider data) {
        boolean lastWins = data.consumeBoolean();
        String pointer = data.consumeString(16);
        byte[] text = data.consumeRemainingAsBytes();
        JsonParser.Duplicates mode = lastWins ? JsonParser.Duplicates.LAST_WINS : JsonParser.Duplicates.REJECT;
        JsonValue v;
        try {
            v = JsonParser.parse(text, SMALL, mode);
        } catch (JsonException refused) {
            if (refused.getMessage().contains("\n") || refused.line() < 1 || refused.column() < 0) {
                throw new AssertionError("bad message: " + refused.getMessage());
            }
            return;
        }
        String written = JsonWriter.write(v);
        JsonValue again;
        try {
            again = JsonParser.parse(written.getBytes(StandardCharsets.UTF_8), JsonParser.Limits.DEFAULT, mode);
        } catch (JsonException e) {
            throw new AssertionError("the writer's output does not parse: " + written, e);
        }
        if (!again.equals(v) || !JsonWriter.write(again).equals(written)) {
            throw new AssertionError("round trip changed " + written + " into " + again);
        }
        JsonPointer.at(v, pointer);
        v.toPlain();
    }
}
