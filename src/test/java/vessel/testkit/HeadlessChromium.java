package vessel.testkit;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import vessel.json.JsonException;
import vessel.json.JsonParser;
import vessel.json.JsonString;
import vessel.json.JsonValue;

/**
 * Debian's chromium, headless, driven through the Chrome DevTools Protocol over its WebSocket (the JDK's
 * client): open a page, evaluate JavaScript, take a screenshot, type keys as a user's keyboard would (key
 * events the page's own handlers see, as puppeteer's keyboard does).
 */
public final class HeadlessChromium implements AutoCloseable {
    /** DevTools messages carry whole screenshots (base64 PNGs): roomy limits. */
    private static final JsonParser.Limits LIMITS = new JsonParser.Limits(1 << 30, 128, 1 << 30, 256);
    private final Process process;
    private final WebSocket page;
    private final AtomicInteger ids = new AtomicInteger();
    private final Map<Integer, CompletableFuture<JsonValue>> pending = new ConcurrentHashMap<>();

    private HeadlessChromium(Process process, WebSocket page) {
        this.process = process;
        this.page = page;
    }

    /** Starts chromium with a window of {@code width} x {@code height} and attaches to its first tab. */
    public static HeadlessChromium start(Path profile, int width, int height) throws Exception {
        Files.createDirectories(profile);
        Process p = new ProcessBuilder(HostTools.find("chromium"), "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-extensions", "--remote-debugging-port=0", "--remote-allow-origins=*",
                "--user-data-dir=" + profile, "--window-size=" + width + "," + height, "about:blank")
                .redirectErrorStream(true).redirectOutput(profile.resolve("chromium.log").toFile()).start();
        Path portFile = profile.resolve("DevToolsActivePort");
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
        while (!Files.exists(portFile) || Files.readAllLines(portFile).isEmpty()) {
            if (System.nanoTime() > deadline || !p.isAlive()) {
                p.destroyForcibly();
                throw new IOException("chromium did not start: " + Files.readString(profile.resolve("chromium.log")));
            }
            Thread.sleep(200);
        }
        int port = Integer.parseInt(Files.readAllLines(portFile).getFirst().strip());
        HttpClient http = HttpClient.newHttpClient();
        String pageUrl = null;
        while (pageUrl == null) {
            JsonValue targets = parse(http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/json/list"))
                    .build(), HttpResponse.BodyHandlers.ofString()).body());
            for (JsonValue t : targets instanceof vessel.json.JsonArray a ? a.elements() : List.<JsonValue>of()) {
                if (text(t, "type").equals("page")) {
                    pageUrl = text(t, "webSocketDebuggerUrl");
                    break;
                }
            }
            if (pageUrl == null) {
                if (System.nanoTime() > deadline) {
                    p.destroyForcibly();
                    throw new IOException("chromium has no page target");
                }
                Thread.sleep(200);
            }
        }
        HeadlessChromium[] self = new HeadlessChromium[1];
        StringBuilder partial = new StringBuilder();
        WebSocket ws = http.newWebSocketBuilder().buildAsync(URI.create(pageUrl), new WebSocket.Listener() {
            @Override
            public CompletionStage<?> onText(WebSocket socket, CharSequence data, boolean last) {
                partial.append(data);
                if (last) {
                    String message = partial.toString();
                    partial.setLength(0);
                    try {
                        JsonValue reply = parse(message);
                        if (reply.get("id") instanceof vessel.json.JsonNumber id && id.fitsLong() && self[0] != null) {
                            CompletableFuture<JsonValue> f = self[0].pending.remove((int) id.longValue());
                            if (f != null) {
                                f.complete(reply);
                            }
                        }
                    } catch (JsonException e) {
                        // not JSON: ignore
                    }
                }
                socket.request(1);
                return null;
            }
        }).get(1, TimeUnit.MINUTES);
        self[0] = new HeadlessChromium(p, ws);
        return self[0];
    }

    private static JsonValue parse(String text) throws JsonException {
        return JsonParser.parse(text.getBytes(java.nio.charset.StandardCharsets.UTF_8), LIMITS,
                JsonParser.Duplicates.LAST_WINS);
    }

    /** The text at {@code path} (a string as is, another value as JSON), "" when there is none. */
    private static String text(JsonValue v, String... path) {
        for (String name : path) {
            v = v == null ? null : v.get(name);
        }
        return v == null ? "" : v instanceof JsonString s ? s.value() : v.toJson();
    }

    /** Sends a DevTools command and returns its result; an error reply fails. */
    public JsonValue call(String method, Map<String, Object> params) throws Exception {
        int id = ids.incrementAndGet();
        CompletableFuture<JsonValue> reply = new CompletableFuture<>();
        pending.put(id, reply);
        page.sendText(JsonValue.of(Map.of("id", id, "method", method, "params", params)).toJson(), true)
                .get(1, TimeUnit.MINUTES);
        JsonValue r = reply.get(5, TimeUnit.MINUTES);
        if (r.get("error") != null) {
            throw new IOException(method + ": " + r.get("error"));
        }
        return r.get("result");
    }

    public void navigate(String url) throws Exception {
        call("Page.enable", Map.of());
        call("Page.navigate", Map.of("url", url));
    }

    /** A JavaScript expression's value, as text. */
    public String evaluate(String expression) throws Exception {
        JsonValue r = call("Runtime.evaluate", Map.of("expression", expression, "returnByValue", true));
        return text(r, "result", "value");
    }

    /** A PNG of the page as shown. */
    public byte[] screenshot() throws Exception {
        return Base64.getDecoder().decode(text(call("Page.captureScreenshot", Map.of("format", "png")), "data"));
    }

    /** Types {@code text} (lower-case letters, digits, space, '-', and '\n' for Enter) as key presses. */
    public void type(String text) throws Exception {
        for (char c : text.toCharArray()) {
            String key;
            String code;
            int vk;
            String typed;
            if (c >= 'a' && c <= 'z') {
                key = String.valueOf(c);
                code = "Key" + Character.toUpperCase(c);
                vk = Character.toUpperCase(c);
                typed = key;
            } else if (c >= '0' && c <= '9') {
                key = String.valueOf(c);
                code = "Digit" + c;
                vk = c;
                typed = key;
            } else if (c == ' ') {
                key = " ";
                code = "Space";
                vk = 32;
                typed = key;
            } else if (c == '-') {
                key = "-";
                code = "Minus";
                vk = 189;
                typed = key;
            } else if (c == '\n') {
                key = "Enter";
                code = "Enter";
                vk = 13;
                typed = "\r";
            } else {
                throw new IllegalArgumentException("no key for '" + c + "'");
            }
            call("Input.dispatchKeyEvent", Map.of("type", "keyDown", "key", key, "code", code,
                    "windowsVirtualKeyCode", vk, "text", typed));
            call("Input.dispatchKeyEvent", Map.of("type", "keyUp", "key", key, "code", code, "windowsVirtualKeyCode", vk));
            Thread.sleep(30);
        }
    }

    @Override
    public void close() {
        try {
            page.sendClose(WebSocket.NORMAL_CLOSURE, "").get(5, TimeUnit.SECONDS);
        } catch (Exception ignored) {
            // chromium is being ended anyway
        }
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
