package vessel.testkit;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real HTTP client for API tests: {@code curl --unix-socket}, run as a subprocess, as Firecracker's
 * getting-started guide drives Firecracker.
 */
public final class Curl {
    /** The status code and the body (empty for none). */
    public record Response(int status, String body) { }

    private Curl() {}

    public static Response get(Path socket, String path) throws IOException, InterruptedException {
        return call(socket, "GET", path, null);
    }

    public static Response put(Path socket, String path, String body) throws IOException, InterruptedException {
        return call(socket, "PUT", path, body);
    }

    public static Response patch(Path socket, String path, String body) throws IOException, InterruptedException {
        return call(socket, "PATCH", path, body);
    }

    /** One request; {@code body} null sends none. */
    public static Response call(Path socket, String method, String path, String body)
            throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("curl", "-sS", "--max-time", "120", "--unix-socket", socket.toString(),
                "-X", method, "-o", "-", "-w", "\n%{http_code}"));
        if (body != null) {
            cmd.addAll(List.of("-H", "Content-Type: application/json", "--data-binary", "@-"));
        }
        cmd.add("http://localhost" + path);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try (OutputStream in = p.getOutputStream()) {
            if (body != null) {
                in.write(body.getBytes(StandardCharsets.UTF_8));
            }
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(150, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("curl did not finish: " + String.join(" ", cmd));
        }
        int nl = out.lastIndexOf('\n');
        String code = out.substring(nl + 1).strip();
        if (p.exitValue() != 0 || !code.matches("\\d{3}") || code.equals("000")) {
            throw new IOException("curl " + method + " " + path + " failed (exit " + p.exitValue() + "): " + out);
        }
        return new Response(Integer.parseInt(code), out.substring(0, nl));
    }
}
