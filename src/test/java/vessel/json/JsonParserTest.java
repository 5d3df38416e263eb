package vessel.json;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The parser, the writer and pointers, on good and hostile input. */
class JsonParserTest {
    private static JsonValue parse(String s) throws JsonException {
        return JsonParser.parse(s.getBytes(StandardCharsets.UTF_8));
    }

    private static String refused(byte[] b, JsonParser.Limits limits) {
        JsonException e = assertThrows(JsonException.class,
                () -> JsonParser.parse(b, limits, JsonParser.Duplicates.REJECT));
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        return e.getMessage();
    }

    private static String refused(String s) {
        return refused(s.getBytes(StandardCharsets.UTF_8), JsonParser.Limits.DEFAULT);
    }

    @Test
    void valuesOfEveryKindInOrder() throws Exception {
        JsonValue v = parse(" {\"b\": [1, -0.5e+3, true, false, null], \"a\": \"x\\u00e9\\ud83d\\ude00\\n\", \"c\": {}} ");
        assertEquals(List.of("b", "a", "c"), List.copyOf(((JsonObject) v).members().keySet()), "insertion order");
        assertEquals("x\u00e9\ud83d\ude00\n", v.get("a").asString());
        assertEquals(new JsonNumber("-0.5e+3"), v.get("b").get(1), "numbers keep their text");
        assertEquals("{\"b\":[1,-0.5e+3,true,false,null],\"a\":\"xé😀\\n\",\"c\":{}}", v.toJson());
        assertEquals(Map.of(), v.get("c").toPlain());
        assertEquals(JsonNull.INSTANCE, parse("null"));
        assertEquals(new JsonString("s"), parse("\"s\""), "any value at the top level (RFC 8259)");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', quoteCharacter = '\'', value = {
        "empty                  | ''                    | EOF while parsing a value at line 1 column 0",
        "trailing data          | '{} x'                | trailing characters at line 1 column 4",
        "second line            | '{\n  \"a\" 1}'       | expected `:` at line 2 column 7",
        "trailing comma, array  | '[1,]'                | trailing comma",
        "trailing comma, object | '{\"a\":1,}'          | trailing comma",
        "leading zero           | '01'                  | invalid number",
        "bare fraction          | '1.'                  | EOF while parsing a number",
        "plus sign              | '+1'                  | expected value",
        "NaN                    | 'NaN'                 | expected value",
        "single quotes          | '{''a'':1}'           | key must be a string",
        "comment                | '/* c */ 1'           | expected value",
        "unknown escape         | '\"\\x\"'             | invalid escape",
        "short unicode escape   | '\"\\u12\"'           | invalid escape",
        "lone high surrogate    | '\"\\ud800\"'         | lone leading surrogate",
        "high then not low      | '\"\\ud800\\u0041\"'  | lone leading surrogate",
        "lone low surrogate     | '\"\\udc00\"'         | lone trailing surrogate",
        "control character      | '\"a\tb\"'            | control character",
        "unterminated string    | '\"abc'               | EOF while parsing a string",
        "unterminated object    | '{\"a\":1'            | EOF while parsing an object",
        "bad literal            | 'tru'                 | EOF while parsing a value",
        "wrong literal          | 'nul1'                | expected ident",
        "duplicate key          | '{\"a\":1,\"a\":2}'   | duplicate field `a` at line 1 column 8",
    })
    void malformedTextIsRefusedWithOneLine(String name, String text, String message) {
        String m = refused(text);
        assertTrue(m.contains(message), m);
    }

    @Test
    void duplicateKeysLastWinsWhenAsked() throws Exception {
        JsonValue v = JsonParser.parse("{\"a\":1,\"b\":2,\"a\":3}".getBytes(StandardCharsets.UTF_8),
                JsonParser.Limits.DEFAULT, JsonParser.Duplicates.LAST_WINS);
        assertEquals("{\"a\":3,\"b\":2}", v.toJson(), "the last value, in the first one's place");
    }

    @Test
    void badUtf8IsRefused() {
        byte[][] bad = {
            {'"', (byte) 0xC0, (byte) 0x80, '"'},               // overlong NUL
            {'"', (byte) 0xE0, (byte) 0x80, (byte) 0x80, '"'},  // overlong
            {'"', (byte) 0xED, (byte) 0xA0, (byte) 0x80, '"'},  // encoded surrogate
            {'"', (byte) 0xF4, (byte) 0x90, (byte) 0x80, (byte) 0x80, '"'}, // beyond U+10FFFF
            {'"', (byte) 0x80, '"'},                            // continuation without a lead
            {'"', (byte) 0xC3, '"'},                            // cut short
            {'"', (byte) 0xC3},
            {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF, '1'},       // byte-order mark
            {'[', (byte) 0xFF, ']'},
        };
        for (byte[] b : bad) {
            refused(b, JsonParser.Limits.DEFAULT);
        }
    }

    @Test
    void goodUtf8IsKept() throws Exception {
        String s = "é€😀\u007f";
        assertEquals(s, JsonParser.parse(("\"" + s + "\"").getBytes(StandardCharsets.UTF_8)).asString());
    }

    @Test
    void limitsHold() throws Exception {
        // Deep nesting: the recursion stops at the limit, not at the stack's end.
        String deep = "[".repeat(100_000) + "]".repeat(100_000);
        assertTrue(refused(deep).contains("recursion limit exceeded at line 1 column 129"));
        String obj = "{\"a\":".repeat(200) + "1" + "}".repeat(200);
        assertTrue(refused(obj).contains("recursion limit exceeded"));
        assertEquals(128, depth(parse("[".repeat(128) + "]".repeat(128))));
        JsonParser.Limits small = new JsonParser.Limits(64, 4, 8, 10);
        assertTrue(refused(new byte[65], small).contains("larger than 64 bytes"));
        assertTrue(refused("\"123456789\"".getBytes(StandardCharsets.UTF_8), small).contains("string longer than 8"));
        assertTrue(refused("12345678901".getBytes(StandardCharsets.UTF_8), small).contains("number longer than 10"));
        assertEquals(new JsonString("12345678"), JsonParser.parse("\"12345678\"".getBytes(StandardCharsets.UTF_8), small,
                JsonParser.Duplicates.REJECT));
    }

    private static int depth(JsonValue v) {
        int d = 0;
        while (v instanceof JsonArray a && !a.elements().isEmpty()) {
            v = a.elements().getFirst();
            d++;
        }
        return d + 1;
    }

    @Test
    void hugeNumbersParseAndAreRangeCheckedWhenRead() throws Exception {
        JsonNumber big = (JsonNumber) parse("123456789012345678901234567890");
        assertFalse(big.fitsLong());
        assertThrows(ArithmeticException.class, big::longValue);
        assertEquals("123456789012345678901234567890", big.toJson(), "kept exactly");
        assertEquals(Long.MAX_VALUE, ((JsonNumber) parse("9223372036854775807")).longValue());
        assertFalse(((JsonNumber) parse("9223372036854775808")).fitsLong());
        assertTrue(((JsonNumber) parse("18446744073709551615")).fitsUnsignedLong());
        assertFalse(((JsonNumber) parse("18446744073709551616")).fitsUnsignedLong());
        assertFalse(((JsonNumber) parse("-1")).fitsUnsignedLong());
        assertFalse(((JsonNumber) parse("2.0")).isIntegral(), "a float is no integer, as in serde");
        JsonNumber hugeExponent = (JsonNumber) parse("1e99999999999");
        assertTrue(Double.isInfinite(hugeExponent.doubleValue()));
        assertThrows(ArithmeticException.class, hugeExponent::bigDecimal);
        assertThrows(IllegalArgumentException.class, () -> new JsonNumber("01"));
        assertThrows(IllegalArgumentException.class, () -> JsonNumber.of(Double.NaN));
    }

    @Test
    void writerEscapesAsSerdeJson() {
        assertEquals("\"q\\\"b\\\\/\\b\\f\\n\\r\\t\\u0001\\u001f\u007fé\"",
                new JsonString("q\"b\\/\b\f\n\r\t\u0001\u001f\u007fé").toJson());
        assertEquals("{\"k\":[null,1,\"E\"]}", JsonValue.of(Map.of("k", java.util.Arrays.asList(null, 1L, Thread.State.NEW)))
                .toJson().replace("NEW", "E"));
        assertThrows(IllegalArgumentException.class, () -> JsonValue.of(new Object()));
    }

    @Test
    void pointersFollowRfc6901() throws Exception {
        JsonValue doc = parse("{\"a/b\":{\"c~d\":\"x\"},\"n\":[1,{\"k\":\"v\"}],\"\":0}");
        assertEquals(doc, JsonPointer.at(doc, ""));
        assertEquals(new JsonString("x"), JsonPointer.at(doc, "/a~1b/c~0d"));
        assertEquals(new JsonString("v"), JsonPointer.at(doc, "/n/1/k"));
        assertEquals(new JsonNumber("0"), JsonPointer.at(doc, "/"));
        assertNull(JsonPointer.at(doc, "/n/01"), "no leading zeros");
        assertNull(JsonPointer.at(doc, "/n/2"));
        assertNull(JsonPointer.at(doc, "/n/-"));
        assertNull(JsonPointer.at(doc, "/n/99999999999"));
        assertNull(JsonPointer.at(doc, "/a~2b"), "~ must be ~0 or ~1");
        assertNull(JsonPointer.at(doc, "a"), "a pointer starts with /");
        assertNull(JsonPointer.at(doc, "/n/0/x"), "nothing under a number");
    }
}
