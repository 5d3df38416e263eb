package vessel.devices.mmds;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import vessel.json.JsonValue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The guest's HTTP requests to MMDS and Firecracker's answers: formats, V1 and V2 sessions, errors. */
class MmdsHttpTest {
    final AtomicLong clock = new AtomicLong(5_000_000_000L);
    MmdsStore store;

    @BeforeEach
    void setUp() throws Exception {
        store = new MmdsStore(MmdsStore.DEFAULT_SIZE_LIMIT, clock::get);
        store.put(JsonValue.parse("""
                {"latest": {"meta-data": {"ami-id": "ami-87654321", "reservation-id": "r-79054aef",
                 "network": {"mac": "02:29"}}, "count": 5, "list": ["a", "b"]}}"""));
    }

    /** The whole answer text for a request written as text. */
    private String ask(String request) {
        byte[] b = request.getBytes(StandardCharsets.US_ASCII);
        MmdsHttp.Parsed p = MmdsHttp.parse(b, b.length, false);
        MmdsHttp.Parsed.Complete c = assertInstanceOf(MmdsHttp.Parsed.Complete.class, p, request);
        assertEquals(b.length, c.request().length());
        return new String(MmdsHttp.respond(c.request(), store), StandardCharsets.UTF_8);
    }

    private static String body(String answer) {
        return answer.substring(answer.indexOf("\r\n\r\n") + 4);
    }

    private static String status(String answer) {
        return answer.substring(0, answer.indexOf("\r\n"));
    }

    @Test
    void formatsAsFirecrackerDocuments() {
        String leaf = ask("GET /latest/meta-data/ami-id HTTP/1.1\r\n\r\n");
        assertEquals("HTTP/1.1 200 OK\r\nServer: Firecracker API\r\nConnection: keep-alive\r\nContent-Type: text/plain"
                + "\r\nContent-Length: 12\r\n\r\nami-87654321", leaf);
        assertEquals("ami-id\nnetwork/\nreservation-id", body(ask("GET /latest/meta-data HTTP/1.1\r\n\r\n")),
                "an object as its keys, '/' after sub-objects");
        assertEquals("ami-id\nnetwork/\nreservation-id", body(ask("GET /latest/meta-data/ HTTP/1.1\r\n\r\n")));
        assertEquals("count\nlist\nmeta-data/", body(ask("GET //latest// HTTP/1.1\r\n\r\n")), "'//' folds into '/'");
        String json = ask("GET /latest/meta-data HTTP/1.1\r\nAccept: application/json\r\n\r\n");
        assertTrue(json.contains("Content-Type: application/json\r\n"), json);
        assertEquals("{\"ami-id\":\"ami-87654321\",\"network\":{\"mac\":\"02:29\"},\"reservation-id\":\"r-79054aef\"}",
                body(json));
        assertEquals("\"ami-87654321\"", body(ask("GET /latest/meta-data/ami-id HTTP/1.1\r\nAccept: application/json\r\n\r\n")));
        assertEquals("5", body(ask("GET /latest/count HTTP/1.1\r\nAccept: application/json\r\n\r\n")));
        assertEquals("a", body(ask("GET /latest/list/0 HTTP/1.1\r\n\r\n")));
        assertEquals("HTTP/1.1 200 OK", status(ask("GET http://169.254.169.254/latest/count HTTP/1.1\r\n"
                + "Accept: application/json\r\n\r\n")), "an absolute URI");
    }

    @Test
    void errorsAsFirecrackerAnswersThem() {
        String missing = ask("GET /latest/nothing HTTP/1.1\r\n\r\n");
        assertEquals("HTTP/1.1 404 Not Found", status(missing));
        assertEquals("Resource not found: /latest/nothing.", body(missing));
        String number = ask("GET /latest/count HTTP/1.1\r\n\r\n");
        assertEquals("HTTP/1.1 501 Not Implemented", status(number));
        assertEquals("Cannot retrieve value. The value has an unsupported type.", body(number));
        String patch = ask("PATCH /latest HTTP/1.1\r\n\r\n");
        assertEquals("HTTP/1.1 405 Method Not Allowed", status(patch));
        assertTrue(patch.contains("Allow: GET, PUT\r\n"), patch);
        assertEquals("HTTP/1.1 400 Bad Request", status(ask("GET http://169.254.169.254 HTTP/1.1\r\n\r\n")));
        assertEquals("Invalid URI.", body(ask("GET http://169.254.169.254 HTTP/1.1\r\n\r\n")));
    }

    @Test
    void imdsCompatAnswersTextWhateverTheAcceptHeader() {
        store.imdsCompat(true);
        assertEquals("ami-87654321", body(ask("GET /latest/meta-data/ami-id HTTP/1.1\r\nAccept: application/json\r\n\r\n")));
    }

    @Test
    void v2NeedsAValidUnexpiredToken() {
        store.version(MmdsStore.Version.V2);
        String none = ask("GET /latest/meta-data/ami-id HTTP/1.1\r\n\r\n");
        assertEquals("HTTP/1.1 401 Unauthorized", status(none));
        assertEquals("No MMDS token provided. Use `X-metadata-token` header to specify the session token.", body(none));
        String made = ask("PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 60\r\n\r\n");
        assertEquals("HTTP/1.1 200 OK", status(made));
        String token = body(made);
        assertEquals(MmdsStore.TOKEN_CHARS, token.length());
        assertEquals("ami-87654321", body(ask("GET /latest/meta-data/ami-id HTTP/1.1\r\nX-metadata-token: " + token
                + "\r\n\r\n")));
        assertEquals("ami-87654321", body(ask("GET /latest/meta-data/ami-id HTTP/1.1\r\nX-aws-ec2-metadata-token: "
                + token + "\r\n\r\n")), "EC2's header name too");
        char flipped = token.charAt(20) == 'A' ? 'B' : 'A';
        String forged = token.substring(0, 20) + flipped + token.substring(21);
        assertEquals("MMDS token not valid.", body(ask("GET /latest HTTP/1.1\r\nX-metadata-token: " + forged + "\r\n\r\n")));
        clock.addAndGet(60_000_000_000L);
        String expired = ask("GET /latest HTTP/1.1\r\nX-metadata-token: " + token + "\r\n\r\n");
        assertEquals("HTTP/1.1 401 Unauthorized", status(expired));
        assertEquals("MMDS token not valid.", body(expired));
    }

    @Test
    void tokenRequestsAreChecked() {
        store.version(MmdsStore.Version.V2);
        assertEquals("Token time to live value not found. Use `X-metadata-token-ttl-seconds` header to specify the "
                + "token's lifetime.", body(ask("PUT /latest/api/token HTTP/1.1\r\n\r\n")));
        assertEquals("Invalid time to live value provided for token: 0. Please provide a value between 1 and 21600.",
                body(ask("PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 0\r\n\r\n")));
        assertEquals("HTTP/1.1 400 Bad Request",
                status(ask("PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 21601\r\n\r\n")));
        assertEquals("HTTP/1.1 200 OK",
                status(ask("PUT /latest/api/token HTTP/1.1\r\nX-aws-ec2-metadata-token-ttl-seconds: 21600\r\n\r\n")));
        assertEquals("HTTP/1.1 400 Bad Request",
                status(ask("PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: ten\r\n\r\n")));
        assertEquals("Invalid header. Reason: Unsupported header name. Key: X-Forwarded-For", body(ask(
                "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 5\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n")));
        assertEquals("HTTP/1.1 404 Not Found",
                status(ask("PUT /latest/other HTTP/1.1\r\nX-metadata-token-ttl-seconds: 5\r\n\r\n")));
        assertEquals("HTTP/1.1 200 OK", status(ask("PUT //latest//api/token HTTP/1.1\r\nContent-Length: 0\r\n"
                + "X-metadata-token-ttl-seconds: 5\r\n\r\n")));
    }

    @Test
    void v1AnswersWithOrWithoutATokenAndAlsoMakesThem() {
        assertEquals("ami-87654321", body(ask("GET /latest/meta-data/ami-id HTTP/1.1\r\n\r\n")));
        assertEquals("ami-87654321", body(ask("GET /latest/meta-data/ami-id HTTP/1.1\r\nX-metadata-token: junk\r\n\r\n")));
        assertEquals("HTTP/1.1 200 OK", status(ask("PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 9\r\n\r\n")));
    }

    @Test
    void connectionCloseAndHttp10CloseAfterTheAnswer() {
        byte[] close = "GET / HTTP/1.1\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
        assertTrue(((MmdsHttp.Parsed.Complete) MmdsHttp.parse(close, close.length, false)).request().close());
        byte[] old = "GET / HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
        MmdsHttp.Request r = ((MmdsHttp.Parsed.Complete) MmdsHttp.parse(old, old.length, false)).request();
        assertTrue(r.close());
        assertTrue(new String(MmdsHttp.respond(r, store), StandardCharsets.US_ASCII).startsWith("HTTP/1.0 200 OK\r\n"));
        byte[] keep = "GET / HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
        assertFalse(((MmdsHttp.Parsed.Complete) MmdsHttp.parse(keep, keep.length, false)).request().close());
    }

    @Test
    void partialAndMalformedRequests() {
        byte[] start = "GET /latest HTTP/1.1\r\nAcc".getBytes(StandardCharsets.US_ASCII);
        assertInstanceOf(MmdsHttp.Parsed.Incomplete.class, MmdsHttp.parse(start, start.length, false));
        assertEquals("Request too large.", assertInstanceOf(MmdsHttp.Parsed.Malformed.class,
                MmdsHttp.parse(start, start.length, true)).message());
        byte[] withBody = "PUT /latest/api/token HTTP/1.1\r\nContent-Length: 4\r\n\r\nab".getBytes(StandardCharsets.US_ASCII);
        assertInstanceOf(MmdsHttp.Parsed.Incomplete.class,
                MmdsHttp.parse(java.util.Arrays.copyOf(withBody, 4096), withBody.length, false), "the body is not all in");
        String[][] bad = {
            {"HEAD / HTTP/1.1\r\n\r\n", "Invalid HTTP method."},
            {"GET / HTTP/2.0\r\n\r\n", "Unsupported HTTP version."},
            {"GET  / HTTP/1.1\r\n\r\n", "Invalid request line."},
            {"GET / HTTP/1.1 x\r\n\r\n", "Invalid request line."},
            {"GET ftp://x/ HTTP/1.1\r\n\r\n", "Invalid URI."},
            {"GET / HTTP/1.1\r\nNoColon\r\n\r\n", "Invalid header."},
            {"GET / HTTP/1.1\r\n: empty name\r\n\r\n", "Invalid header."},
            {"GET / HTTP/1.1\r\nX-metadata-token: \u00e9\r\n\r\n", "Invalid header."},
            {"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "Invalid value. Key:Content-Length; Value:-1"},
            {"GET / HTTP/1.1\r\nContent-Length: 999999\r\n\r\n", "Request too large."},
            {"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", "Unsupported transfer encoding."},
        };
        for (String[] b : bad) {
            byte[] bytes = b[0].getBytes(StandardCharsets.ISO_8859_1);
            byte[] buf = java.util.Arrays.copyOf(bytes, 4096);
            assertEquals(b[1], assertInstanceOf(MmdsHttp.Parsed.Malformed.class, MmdsHttp.parse(buf, bytes.length, false),
                    b[0]).message(), b[0]);
        }
        assertThrows(IllegalArgumentException.class, () -> MmdsHttp.parse(new byte[4], 5, false));
    }
}
