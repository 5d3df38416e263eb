package vessel.devices.mmds;

import java.nio.charset.StandardCharsets;

/**
 * The guest's side of MMDS over HTTP/1.1, as Firecracker answers it: {@link #parse} reads one request
 * from the bytes a connection has received, {@link #respond} builds the answer from the {@link MmdsStore}.
 *
 * <p>Requests are small (a request line and a few headers); the parser looks at no more than the
 * {@code length} it is given, which the TCP layer bounds by its receive buffer, and every loop runs over
 * those bytes once. Only the headers MMDS uses are kept; a body (Content-Length) is skipped.
 */
public final class MmdsHttp {
    /** Where V2 session tokens are made. */
    public static final String TOKEN_PATH = "/latest/api/token";
    /** Header value lengths beyond this are refused (a TTL is at most 5 digits, a token 43 characters). */
    static final int MAX_VALUE = 256;

    public enum Method { GET, PUT, PATCH }

    /**
     * A parsed request: method, URI's absolute path (possibly empty), HTTP/1.{@code minor}, the headers MMDS
     * uses (null when absent), whether the connection closes after the answer, and how many bytes it took.
     */
    public record Request(Method method, String path, int minor, boolean wantsJson, String token, String ttl,
                          boolean forwardedFor, boolean close, int length) { }

    /** The outcome of {@link #parse}: a request, more bytes needed, or a malformed request. */
    public sealed interface Parsed {
        record Complete(Request request) implements Parsed { }

        record Incomplete() implements Parsed { }

        /** Answered with 400 and {@code message}, then the connection closes. */
        record Malformed(String message) implements Parsed { }
    }

    private static final Parsed INCOMPLETE = new Parsed.Incomplete();

    private MmdsHttp() {}

    /**
     * Parses the request at the start of {@code buf[0, length)}. {@code full} says the buffer can take no
     * more bytes: a request that has not ended by then is malformed (too long).
     */
    public static Parsed parse(byte[] buf, int length, boolean full) {
        if (length < 0 || length > buf.length) {
            throw new IllegalArgumentException("length " + length + " outside a buffer of " + buf.length);
        }
        int end = headerEnd(buf, length);
        if (end < 0) {
            return full ? new Parsed.Malformed("Request too large.") : INCOMPLETE;
        }
        // Request line: METHOD SP URI SP VERSION CRLF
        int lineEnd = indexOfCrlf(buf, 0, end + 2);
        int sp1 = indexOf(buf, (byte) ' ', 0, lineEnd);
        int sp2 = sp1 < 0 ? -1 : indexOf(buf, (byte) ' ', sp1 + 1, lineEnd);
        if (sp1 <= 0 || sp2 < 0 || indexOf(buf, (byte) ' ', sp2 + 1, lineEnd) >= 0) {
            return new Parsed.Malformed("Invalid request line.");
        }
        Method method = switch (ascii(buf, 0, sp1)) {
            case "GET" -> Method.GET;
            case "PUT" -> Method.PUT;
            case "PATCH" -> Method.PATCH;
            default -> null;
        };
        if (method == null) {
            return new Parsed.Malformed("Invalid HTTP method.");
        }
        String uri = printable(buf, sp1 + 1, sp2);
        if (uri == null || uri.isEmpty()) {
            return new Parsed.Malformed("Invalid URI.");
        }
        String version = ascii(buf, sp2 + 1, lineEnd);
        int minor;
        if (version.equals("HTTP/1.1")) {
            minor = 1;
        } else if (version.equals("HTTP/1.0")) {
            minor = 0;
        } else {
            return new Parsed.Malformed("Unsupported HTTP version.");
        }
        String path = absolutePath(uri);
        if (path == null) {
            return new Parsed.Malformed("Invalid URI.");
        }
        boolean json = false;
        boolean forwarded = false;
        boolean close = minor == 0;
        String token = null;
        String ttl = null;
        long contentLength = 0;
        int at = lineEnd + 2;
        while (at < end) {
            int eol = indexOfCrlf(buf, at, end + 2);
            int colon = indexOf(buf, (byte) ':', at, eol);
            if (colon <= at) {
                return new Parsed.Malformed("Invalid header.");
            }
            String name = printable(buf, at, colon);
            String value = text(buf, colon + 1, eol);
            if (name == null || value == null || value.length() > MAX_VALUE) {
                return new Parsed.Malformed("Invalid header.");
            }
            value = value.strip();
            switch (name.toLowerCase(java.util.Locale.ROOT)) {
                case "accept" -> json = value.equalsIgnoreCase("application/json");
                case "x-metadata-token", "x-aws-ec2-metadata-token" -> token = value;
                case "x-metadata-token-ttl-seconds", "x-aws-ec2-metadata-token-ttl-seconds" -> ttl = value;
                case "x-forwarded-for" -> forwarded = true;
                case "connection" -> {
                    if (value.equalsIgnoreCase("close")) {
                        close = true;
                    } else if (value.equalsIgnoreCase("keep-alive")) {
                        close = false;
                    }
                }
                case "content-length" -> {
                    if (value.isEmpty() || value.length() > 9 || !value.chars().allMatch(c -> c >= '0' && c <= '9')) {
                        return new Parsed.Malformed("Invalid value. Key:Content-Length; Value:" + value);
                    }
                    contentLength = Long.parseLong(value);
                }
                case "transfer-encoding" -> {
                    return new Parsed.Malformed("Unsupported transfer encoding.");
                }
                default -> { }
            }
            at = eol + 2;
        }
        long total = end + 4 + contentLength;
        if (total > buf.length) {
            return new Parsed.Malformed("Request too large.");
        }
        if (total > length) {
            return INCOMPLETE;
        }
        return new Parsed.Complete(new Request(method, path, minor, json, token, ttl, forwarded, close, (int) total));
    }

    /** The answer to {@code r}, as Firecracker's MMDS gives it for the store's version. */
    public static byte[] respond(Request r, MmdsStore store) {
        if (r.path().isEmpty()) {
            return response(r, 400, "Invalid URI.", "text/plain", null);
        }
        String path = foldSlashes(r.path());
        return switch (r.method()) {
            case GET -> get(r, path, store);
            case PUT -> putToken(r, path, store);
            case PATCH -> response(r, 405, "Not allowed HTTP method.", "text/plain", "GET, PUT");
        };
    }

    /** A 400 answer for a request that could not be parsed (it closes the connection). */
    public static byte[] badRequest(String message) {
        return response(1, true, 400, message, "text/plain", null);
    }

    private static byte[] get(Request r, String path, MmdsStore store) {
        if (store.version() == MmdsStore.Version.V2) {
            if (r.token() == null) {
                return response(r, 401, "No MMDS token provided. Use `X-metadata-token` header to specify the "
                        + "session token.", "text/plain", null);
            }
            if (!store.validToken(r.token())) {
                return response(r, 401, "MMDS token not valid.", "text/plain", null);
            }
        }
        // V1 answers with or without a token, valid or not, as Firecracker's V1 does.
        return switch (store.lookup(path, r.wantsJson() ? MmdsStore.Format.JSON : MmdsStore.Format.IMDS)) {
            case MmdsStore.Lookup.Found f -> response(r, 200, f.body(),
                    f.format() == MmdsStore.Format.JSON ? "application/json" : "text/plain", null);
            case MmdsStore.Lookup.NotFound n -> response(r, 404, "Resource not found: " + r.path() + ".",
                    "text/plain", null);
            case MmdsStore.Lookup.UnsupportedType u -> response(r, 501,
                    "Cannot retrieve value. The value has an unsupported type.", "text/plain", null);
        };
    }

    private static byte[] putToken(Request r, String path, MmdsStore store) {
        if (r.forwardedFor()) {
            return response(r, 400, "Invalid header. Reason: Unsupported header name. Key: X-Forwarded-For",
                    "text/plain", null);
        }
        if (!path.equals(TOKEN_PATH)) {
            return response(r, 404, "Resource not found: " + r.path() + ".", "text/plain", null);
        }
        if (r.ttl() == null) {
            return response(r, 400, "Token time to live value not found. Use `X-metadata-token-ttl-seconds` header "
                    + "to specify the token's lifetime.", "text/plain", null);
        }
        String v = r.ttl();
        if (v.isEmpty() || v.length() > 9 || !v.chars().allMatch(c -> c >= '0' && c <= '9')) {
            return response(r, 400, "Invalid header. Reason: Invalid value. Key:X-metadata-token-ttl-seconds; Value:"
                    + v, "text/plain", null);
        }
        long ttl = Long.parseLong(v);
        if (ttl < MmdsStore.MIN_TOKEN_TTL_SECONDS || ttl > MmdsStore.MAX_TOKEN_TTL_SECONDS) {
            return response(r, 400, "Invalid time to live value provided for token: " + ttl + ". Please provide a "
                    + "value between " + MmdsStore.MIN_TOKEN_TTL_SECONDS + " and " + MmdsStore.MAX_TOKEN_TTL_SECONDS
                    + ".", "text/plain", null);
        }
        return response(r, 200, store.newToken((int) ttl), "text/plain", null);
    }

    private static byte[] response(Request r, int status, String body, String type, String allow) {
        return response(r.minor(), r.close(), status, body, type, allow);
    }

    private static byte[] response(int minor, boolean close, int status, String body, String type, String allow) {
        byte[] content = body.getBytes(StandardCharsets.UTF_8);
        StringBuilder h = new StringBuilder(160);
        h.append("HTTP/1.").append(minor).append(' ').append(status).append(' ').append(reason(status)).append("\r\n");
        h.append("Server: Firecracker API\r\n");
        h.append("Connection: ").append(close ? "close" : "keep-alive").append("\r\n");
        h.append("Content-Type: ").append(type).append("\r\n");
        h.append("Content-Length: ").append(content.length).append("\r\n");
        if (allow != null) {
            h.append("Allow: ").append(allow).append("\r\n");
        }
        h.append("\r\n");
        byte[] head = h.toString().getBytes(StandardCharsets.US_ASCII);
        byte[] out = new byte[head.length + content.length];
        System.arraycopy(head, 0, out, 0, head.length);
        System.arraycopy(content, 0, out, head.length, content.length);
        return out;
    }

    private static String reason(int status) {
        return switch (status) {
            case 200 -> "OK";
            case 400 -> "Bad Request";
            case 401 -> "Unauthorized";
            case 404 -> "Not Found";
            case 405 -> "Method Not Allowed";
            case 501 -> "Not Implemented";
            default -> "";
        };
    }

    /** The absolute path of a request target: as is when it starts with "/", after the authority of an http:// URI. */
    static String absolutePath(String uri) {
        if (uri.startsWith("/")) {
            return uri;
        }
        String lower = uri.toLowerCase(java.util.Locale.ROOT);
        if (!lower.startsWith("http://")) {
            return null;
        }
        int slash = uri.indexOf('/', 7);
        return slash < 0 ? "" : uri.substring(slash);
    }

    /** Firecracker's sanitize_uri: every run of "/" becomes one. */
    static String foldSlashes(String path) {
        StringBuilder b = new StringBuilder(path.length());
        for (int i = 0; i < path.length(); i++) {
            char c = path.charAt(i);
            if (c != '/' || b.isEmpty() || b.charAt(b.length() - 1) != '/') {
                b.append(c);
            }
        }
        return b.toString();
    }

    /** Where the header block's CRLFCRLF starts, or -1. */
    private static int headerEnd(byte[] b, int length) {
        for (int i = 0; i + 3 < length; i++) {
            if (b[i] == '\r' && b[i + 1] == '\n' && b[i + 2] == '\r' && b[i + 3] == '\n') {
                return i;
            }
        }
        return -1;
    }

    /** The first CRLF in [from, limit); the header block's final CRLF ends every search before limit. */
    private static int indexOfCrlf(byte[] b, int from, int limit) {
        for (int i = from; i + 1 < limit; i++) {
            if (b[i] == '\r' && b[i + 1] == '\n') {
                return i;
            }
        }
        return limit - 2;
    }

    private static int indexOf(byte[] b, byte v, int from, int to) {
        for (int i = from; i < to; i++) {
            if (b[i] == v) {
                return i;
            }
        }
        return -1;
    }

    private static String ascii(byte[] b, int from, int to) {
        return new String(b, from, to - from, StandardCharsets.US_ASCII);
    }

    /** Visible ASCII (0x21-0x7e) only, or null. */
    private static String printable(byte[] b, int from, int to) {
        for (int i = from; i < to; i++) {
            if (b[i] < 0x21 || b[i] > 0x7e) {
                return null;
            }
        }
        return ascii(b, from, to);
    }

    /** Visible ASCII, spaces and tabs (a header value), or null. */
    private static String text(byte[] b, int from, int to) {
        for (int i = from; i < to; i++) {
            if ((b[i] < 0x20 && b[i] != '\t') || b[i] > 0x7e) {
                return null;
            }
        }
        return ascii(b, from, to);
    }
}
