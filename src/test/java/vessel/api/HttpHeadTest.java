package vessel.api;

import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HttpHeadTest {
    private static HttpHead parse(String head) throws HttpHead.HttpError {
        byte[] b = head.getBytes(StandardCharsets.ISO_8859_1);
        return HttpHead.parse(b, 0, b.length);
    }

    private static int refused(String head) {
        return assertThrows(HttpHead.HttpError.class, () -> parse(head)).status();
    }

    @Test
    void aRequestHeadGivesMethodPathAndFraming() throws Exception {
        HttpHead h = parse("PUT /drives/root%5Ffs?x=1 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 12\r\n"
                + "Expect: 100-continue");
        assertEquals("PUT", h.method());
        assertEquals("/drives/root_fs", h.path());
        assertEquals(12, h.contentLength());
        assertTrue(h.keepAlive());
        assertTrue(h.expectContinue());
        assertFalse(h.chunked());
        assertFalse(parse("GET / HTTP/1.1\r\nConnection: close").keepAlive());
        assertFalse(parse("GET / HTTP/1.0").keepAlive());
        assertTrue(parse("GET / HTTP/1.0\nConnection: Keep-Alive").keepAlive());
        assertTrue(parse("PUT / HTTP/1.1\r\nTransfer-Encoding: chunked").chunked());
        assertEquals(-1, parse("GET / HTTP/1.1").contentLength());
    }

    @Test
    void eachMalformedHeadGetsHttpsOwnStatus() {
        assertEquals(400, refused("BOGUS"));
        assertEquals(400, refused("GET / HTTP/1.1 trailing"));
        assertEquals(400, refused("\u0001 / HTTP/1.1"));
        assertEquals(400, refused("GET / HTTP/1.1\r\nno colon"));
        assertEquals(400, refused("GET / HTTP/1.1\r\nBad Name: x"));
        assertEquals(400, refused("GET / HTTP/1.1\r\n folded: x"));
        assertEquals(400, refused("GET http://x/ HTTP/1.1"));
        assertEquals(400, refused("GET /%zz HTTP/1.1"));
        assertEquals(400, refused("GET /%ff HTTP/1.1"));
        assertEquals(400, refused("PUT / HTTP/1.1\r\nContent-Length: -1"));
        assertEquals(400, refused("PUT / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2"));
        assertEquals(400, refused("PUT / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked"));
        assertEquals(501, refused("PUT / HTTP/1.1\r\nTransfer-Encoding: gzip"));
        assertEquals(505, refused("GET / HTTP/2.0"));
        assertEquals(505, refused("GET /"));
        assertEquals(431, refused("GET / HTTP/1.1" + "\r\nX: y".repeat(HttpHead.MAX_HEADERS + 1)));
    }
}
