package vessel.api;

import java.io.ByteArrayOutputStream;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * An HTTP/1.x request head as the API reads it: request line and headers, parsed from the bytes before the
 * blank line, each failure an {@link HttpError} carrying HTTP's own status (400 malformed, 431 too many
 * headers, 501 an unsupported transfer coding, 505 a version other than 1.0 and 1.1). Only what the API
 * needs is kept: method, the path (percent-decoded, without query), the body's framing, whether the
 * connection stays open, whether the client waits for a 100 Continue. A pure function of its bytes, so it
 * is fuzzed without a socket ({@code HttpHeadFuzzTest}).
 *
 * <p>The web console's {@code vessel.display.web.HttpRequest} reads GETs for browsers and answers every
 * failure the same way; the API must tell 400, 431, 505 and 501 apart and frame bodies, so it has this one.
 */
record HttpHead(String method, String path, boolean keepAlive, long contentLength, boolean chunked,
                boolean expectContinue) {
    /** Headers after the request line; more is a 431, as a header block over the byte limit is. */
    static final int MAX_HEADERS = 100;

    /** A request the server answers with {@code status} and a one-line {@code fault_message}, then closes. */
    static final class HttpError extends Exception {
        private final int status;

        HttpError(int status, String message) {
            super(message, null, false, false);
            this.status = status;
        }

        int status() {
            return status;
        }
    }

    /** Parses {@code bytes[from, to)}: the head's lines without the blank line that ends them. */
    static HttpHead parse(byte[] bytes, int from, int to) throws HttpError {
        String text = new String(bytes, from, to - from, StandardCharsets.ISO_8859_1);
        String[] lines = text.split("\n", -1);
        if (lines.length - 1 > MAX_HEADERS) {
            throw new HttpError(431, "more than " + MAX_HEADERS + " request headers");
        }
        String requestLine = stripCr(lines[0]);
        for (int i = 0; i < requestLine.length(); i++) {
            char c = requestLine.charAt(i);
            if (c < 0x20 || c >= 0x7f) {
                throw new HttpError(400, "a control or non-ASCII character in the request line");
            }
        }
        String[] parts = requestLine.split(" ", -1);
        if (parts.length == 2 && isToken(parts[0]) && parts[1].startsWith("/")) {
            // "GET /" is HTTP/0.9's form: a version this server does not speak.
            throw new HttpError(505, "HTTP/0.9 is not supported");
        }
        if (parts.length != 3 || !isToken(parts[0])) {
            throw new HttpError(400, "malformed request line");
        }
        String version = parts[2];
        boolean http11;
        if (version.equals("HTTP/1.1")) {
            http11 = true;
        } else if (version.equals("HTTP/1.0")) {
            http11 = false;
        } else if (version.matches("HTTP/[0-9]\\.[0-9]")) {
            throw new HttpError(505, "version " + version + " is not supported");
        } else {
            throw new HttpError(400, "malformed request line");
        }
        String target = parts[1];
        if (!target.startsWith("/")) {
            throw new HttpError(400, "the request target is not a path");
        }
        long contentLength = -1;
        boolean chunked = false;
        boolean transferEncoding = false;
        boolean close = !http11;
        boolean expectContinue = false;
        for (int i = 1; i < lines.length; i++) {
            String line = stripCr(lines[i]);
            if (line.isEmpty()) {
                throw new HttpError(400, "an empty line inside the header block");
            }
            int colon = line.indexOf(':');
            if (colon <= 0 || !isToken(line.substring(0, colon))) {
                // no name, whitespace before the colon, or a folded line (obsolete, refused as RFC 9112 allows)
                throw new HttpError(400, "a malformed header line");
            }
            String name = line.substring(0, colon).toLowerCase(Locale.ROOT);
            String value = line.substring(colon + 1).strip();
            for (int k = 0; k < value.length(); k++) {
                char c = value.charAt(k);
                if (c < 0x20 && c != '\t' || c == 0x7f) {
                    throw new HttpError(400, "a control character in header " + name);
                }
            }
            switch (name) {
                case "content-length" -> {
                    if (value.isEmpty() || value.length() > 18 || !value.chars().allMatch(c -> c >= '0' && c <= '9')) {
                        throw new HttpError(400, "invalid Content-Length");
                    }
                    long n = Long.parseLong(value);
                    if (contentLength >= 0 && contentLength != n) {
                        throw new HttpError(400, "conflicting Content-Length headers");
                    }
                    contentLength = n;
                }
                case "transfer-encoding" -> {
                    transferEncoding = true;
                    chunked = value.toLowerCase(Locale.ROOT).equals("chunked");
                    if (!chunked) {
                        throw new HttpError(501, "Transfer-Encoding " + printable(value) + " is not supported");
                    }
                }
                case "connection" -> {
                    for (String option : value.toLowerCase(Locale.ROOT).split(",")) {
                        if (option.strip().equals("close")) {
                            close = true;
                        } else if (option.strip().equals("keep-alive") && !http11) {
                            close = false;
                        }
                    }
                }
                case "expect" -> expectContinue = http11 && value.equalsIgnoreCase("100-continue");
                default -> { }
            }
        }
        if (transferEncoding && contentLength >= 0) {
            throw new HttpError(400, "both Content-Length and Transfer-Encoding");
        }
        return new HttpHead(parts[0], decodePath(target), !close, contentLength, chunked, expectContinue);
    }

    /** The target's path without query or fragment, percent-decoded as UTF-8. */
    static String decodePath(String target) throws HttpError {
        int end = target.length();
        int q = target.indexOf('?');
        if (q >= 0) {
            end = q;
        }
        int h = target.indexOf('#');
        if (h >= 0 && h < end) {
            end = h;
        }
        String raw = target.substring(0, end);
        if (raw.indexOf('%') < 0) {
            return raw;
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(raw.length());
        for (int i = 0; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (c != '%') {
                out.write(c);
                continue;
            }
            int hi = i + 2 < raw.length() ? Character.digit(raw.charAt(i + 1), 16) : -1;
            int lo = hi >= 0 ? Character.digit(raw.charAt(i + 2), 16) : -1;
            if (lo < 0) {
                throw new HttpError(400, "a malformed percent-encoding in the path");
            }
            out.write(hi << 4 | lo);
            i += 2;
        }
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(out.toByteArray())).toString();
        } catch (CharacterCodingException e) {
            throw new HttpError(400, "the path is not UTF-8 once percent-decoded");
        }
    }

    private static String stripCr(String line) {
        return line.endsWith("\r") ? line.substring(0, line.length() - 1) : line;
    }

    /** RFC 9110's token: a method or a header name. */
    static boolean isToken(String s) {
        if (s.isEmpty()) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
                    || "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
            if (!ok) {
                return false;
            }
        }
        return true;
    }

    private static String printable(String s) {
        String cut = s.length() > 40 ? s.substring(0, 40) + "..." : s;
        return cut.replaceAll("[^\\x20-\\x7e]", "?");
    }
}
