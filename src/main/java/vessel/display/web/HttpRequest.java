package vessel.display.web;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The request head a browser sends: the request line and the headers, read with bounds (a line at most
 * {@link #MAX_LINE} bytes, at most {@link #MAX_HEADERS} headers). The web console serves GETs only, so a body
 * is never read. Header names are kept lower-case; a repeated header keeps its last value.
 */
public record HttpRequest(String method, String path, Map<String, String> headers) {
    static final int MAX_LINE = 8192;
    static final int MAX_HEADERS = 64;

    public HttpRequest {
        headers = Map.copyOf(headers);
    }

    public static HttpRequest read(InputStream in) throws IOException {
        String requestLine = line(in);
        String[] parts = requestLine.split(" ", -1);
        if (parts.length != 3 || !parts[2].startsWith("HTTP/1.") || parts[0].isEmpty() || !parts[1].startsWith("/")) {
            throw new WebSocketException("not an HTTP/1.x request line: '" + printable(requestLine) + "'");
        }
        Map<String, String> headers = new HashMap<>();
        for (int i = 0; ; i++) {
            String line = line(in);
            if (line.isEmpty()) {
                break;
            }
            if (i == MAX_HEADERS) {
                throw new WebSocketException("more than " + MAX_HEADERS + " headers");
            }
            int colon = line.indexOf(':');
            if (colon <= 0) {
                throw new WebSocketException("a header without a name: '" + printable(line) + "'");
            }
            headers.put(line.substring(0, colon).strip().toLowerCase(Locale.ROOT), line.substring(colon + 1).strip());
        }
        return new HttpRequest(parts[0], parts[1], headers);
    }

    /** The value of a header (name in any case), or "". */
    public String header(String name) {
        return headers.getOrDefault(name.toLowerCase(Locale.ROOT), "");
    }

    /** True for a WebSocket upgrade: Upgrade says websocket and Connection lists upgrade. */
    public boolean isWebSocketUpgrade() {
        return header("upgrade").equalsIgnoreCase("websocket")
                && header("connection").toLowerCase(Locale.ROOT).contains("upgrade")
                && !header("sec-websocket-key").isEmpty();
    }

    /** The path without its query string. */
    public String pathOnly() {
        int q = path.indexOf('?');
        return q < 0 ? path : path.substring(0, q);
    }

    private static String line(InputStream in) throws IOException {
        byte[] buf = new byte[MAX_LINE];
        int n = 0;
        while (true) {
            int b = in.read();
            if (b < 0) {
                throw new EOFException("the connection ended inside the request");
            }
            if (b == '\n') {
                if (n > 0 && buf[n - 1] == '\r') {
                    n--;
                }
                return new String(buf, 0, n, StandardCharsets.ISO_8859_1);
            }
            if (n == MAX_LINE) {
                throw new WebSocketException("a request line or header longer than " + MAX_LINE + " bytes");
            }
            buf[n++] = (byte) b;
        }
    }

    private static String printable(String s) {
        String cut = s.length() > 80 ? s.substring(0, 80) + "..." : s;
        return cut.replaceAll("[^\\x20-\\x7e]", "?");
    }
}
