package vessel.devices.mmds;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import vessel.json.JsonValue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The MMDS document: RFC 7396 merge patch, the size limit, tokens. */
class MmdsStoreTest {

    private static JsonValue json(String s) throws Exception {
        return JsonValue.parse(s.replace('\'', '"'));
    }

    /** RFC 7396's own examples (appendix A). */
    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '"', value = {
        "{'a':'b'}              | {'a':'c'}            | {'a':'c'}",
        "{'a':'b'}              | {'b':'c'}            | {'a':'b','b':'c'}",
        "{'a':'b'}              | {'a':null}           | {}",
        "{'a':'b','b':'c'}      | {'a':null}           | {'b':'c'}",
        "{'a':['b']}            | {'a':'c'}            | {'a':'c'}",
        "{'a':'c'}              | {'a':['b']}          | {'a':['b']}",
        "{'a':{'b':'c'}}        | {'a':{'b':'d','c':null}} | {'a':{'b':'d'}}",
        "{'a':[{'b':'c'}]}      | {'a':[1]}            | {'a':[1]}",
        "['a','b']              | ['c','d']            | ['c','d']",
        "{'a':'b'}              | ['c']                | ['c']",
        "{'a':'foo'}            | 'bar'                | 'bar'",
        "{'e':null}             | {'a':1}              | {'a':1,'e':null}",
        "['a','b']              | {'a':'b','c':null}   | {'a':'b'}",
        "{}                     | {'a':{'bb':{'ccc':null}}} | {'a':{'bb':{}}}",
    })
    void mergePatchFollowsRfc7396(String target, String patch, String result) throws Exception {
        MmdsStore s = new MmdsStore(1000);
        s.put(json(target));
        s.patch(json(patch));
        assertEquals(json(result).toJson(), s.json());
    }

    @Test
    void limitCountsTheSerializedDocument() throws Exception {
        MmdsStore s = new MmdsStore(12);
        // {"a":"12345"} is 13 bytes compact, however it was spaced in the request.
        assertTrue(assertThrows(MmdsStore.StoreException.class, () -> s.put(json("{ 'a' : '12345' }"))).limitExceeded());
        assertEquals("{}", s.json(), "still not initialized");
    }

    @Test
    void overTheLimitIsRefusedAndLeavesTheDocument() throws Exception {
        MmdsStore s = new MmdsStore(12);
        s.put(json("{'a':'1234'}")); // 12 bytes: fits exactly
        MmdsStore.StoreException e = assertThrows(MmdsStore.StoreException.class, () -> s.patch(json("{'a':'12345'}")));
        assertTrue(e.limitExceeded());
        assertEquals("The MMDS patch request doesn't fit.", e.getMessage());
        assertEquals("{\"a\":\"1234\"}", s.json());
        MmdsStore.StoreException notYet = assertThrows(MmdsStore.StoreException.class,
                () -> new MmdsStore(100).patch(json("{}")));
        assertFalse(notYet.limitExceeded());
        assertEquals("The MMDS data store is not initialized.", notYet.getMessage());
    }

    @Test
    void lookupsFollowJsonPointers() throws Exception {
        MmdsStore s = new MmdsStore(1000);
        assertTrue(s.lookup("/a", MmdsStore.Format.JSON) instanceof MmdsStore.Lookup.NotFound, "nothing before PUT");
        s.put(json("{'a/b':{'c~d':'x'},'n':[1,{'k':'v'}]}"));
        assertEquals(new MmdsStore.Lookup.Found("x", MmdsStore.Format.IMDS), s.lookup("/a~1b/c~0d", MmdsStore.Format.IMDS));
        assertEquals(new MmdsStore.Lookup.Found("k", MmdsStore.Format.IMDS), s.lookup("/n/1", MmdsStore.Format.IMDS));
        assertTrue(s.lookup("/n/2", MmdsStore.Format.JSON) instanceof MmdsStore.Lookup.NotFound);
        assertTrue(s.lookup("/n", MmdsStore.Format.IMDS) instanceof MmdsStore.Lookup.UnsupportedType);
        assertEquals(new MmdsStore.Lookup.Found("a/b/\nn", MmdsStore.Format.IMDS), s.lookup("", MmdsStore.Format.IMDS));
        assertTrue(s.lookup("no-slash", MmdsStore.Format.JSON) instanceof MmdsStore.Lookup.NotFound);
    }

    @Test
    void tokensExpireAndCannotBeForged() {
        long[] now = {0};
        MmdsStore s = new MmdsStore(100, () -> now[0]);
        String t = s.newToken(1);
        assertTrue(s.validToken(t));
        assertFalse(new MmdsStore(100, () -> now[0]).validToken(t), "another store's key");
        assertFalse(s.validToken(t + "A"));
        assertFalse(s.validToken(null));
        assertFalse(s.validToken("!".repeat(MmdsStore.TOKEN_CHARS)));
        now[0] = 999_999_999L;
        assertTrue(s.validToken(t));
        now[0] = 1_000_000_000L;
        assertFalse(s.validToken(t), "expired after its TTL");
        assertThrows(IllegalArgumentException.class, () -> s.newToken(0));
        assertThrows(IllegalArgumentException.class, () -> s.newToken(MmdsStore.MAX_TOKEN_TTL_SECONDS + 1));
    }
}
