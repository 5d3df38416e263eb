package vessel.api;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;

import vessel.json.JsonValue;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import vessel.testkit.Curl;
import vessel.vmm.control.Lifecycle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The API server in this process, driven by curl over its Unix socket: every malformed request gets its
 * 4xx and a fault_message, and the server answers GET / after each one. Nothing here boots a guest.
 */
@Timeout(120)
class ApiHttpTest {
    @TempDir
    Path dir;
    private Path socket;
    private ApiServer server;
    private RouterTest.RecordingLauncher launcher;

    @BeforeEach
    void start() throws IOException {
        socket = dir.resolve("api.sock");
        launcher = new RouterTest.RecordingLauncher();
        server = ApiServer.start(socket, new Vmm("http-test", launcher));
    }

    @AfterEach
    void stop() {
        server.close();
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> json(String body) throws IOException {
        return ((Map) JsonValue.parse(body).toPlain());
    }

    /** The request is refused with {@code status} and a fault_message containing {@code fragment}; GET / still works. */
    private void refused(String method, String path, String body, int status, String fragment) throws Exception {
        Curl.Response r = Curl.call(socket, method, path, body);
        assertEquals(status, r.status(), method + " " + path + ": " + r.body());
        String fault = (String) json(r.body()).get("fault_message");
        assertTrue(fault != null && fault.contains(fragment), method + " " + path + ": " + r.body());
        stillServing();
    }

    private void stillServing() throws Exception {
        Curl.Response info = Curl.get(socket, "/");
        assertEquals(200, info.status(), info.body());
        assertEquals("Not started", json(info.body()).get("state"));
    }

    @Test
    void malformedRequestsAreAnsweredAndTheServerKeepsServing() throws Exception {
        Path kernel = Files.writeString(dir.resolve("vmlinux"), "not really a kernel");
        String mc = "/machine-config";
        refused("PUT", mc, "{\"vcpu_count\": 2, \"mem_size_mib\": ", 400, "deserializing the json body");
        refused("PUT", mc, "{\"vcpu_count\": \"2\", \"mem_size_mib\": 128}", 400, "field `vcpu_count`");
        refused("PUT", mc, "{\"vcpu_count\": 2, \"mem_size_mib\": true}", 400, "field `mem_size_mib`");
        refused("PUT", mc, "{\"vcpu_count\": 2, \"mem_size_mib\": 128, \"ht_enabled\": false}", 400, "unknown field `ht_enabled`");
        refused("PUT", mc, "{\"vcpu_count\": 2}", 400, "missing field `mem_size_mib`");
        refused("PUT", mc, "{\"vcpu_count\": 0, \"mem_size_mib\": 128}", 400, "vcpu_count 0 is out of range");
        refused("PUT", mc, null, 400, "Empty PUT request.");
        refused("PATCH", mc, "{}", 400, "Empty PATCH request.");
        refused("PUT", "/boot-source", "{\"boot_args\": \"console=ttyS0\"}", 400, "missing field `kernel_image_path`");
        refused("PUT", "/boot-source", "{\"kernel_image_path\": \"/nonexistent/vmlinux\"}", 400, "does not exist");
        refused("PUT", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"" + kernel + "\", "
                + "\"is_root_device\": \"yes\"}", 400, "field `is_root_device`");
        refused("PUT", "/drives/rootfs", "{\"drive_id\": \"data\", \"path_on_host\": \"" + kernel + "\", "
                + "\"is_root_device\": false}", 400, "does not match");
        refused("PUT", "/drives/root-fs", "{}", 400, "alphanumeric characters and underscores");
        refused("PUT", "/actions", "{\"action_type\": \"Reboot\"}", 400, "unknown variant `Reboot`");
        refused("PUT", "/actions", "{}", 400, "missing field `action_type`");
        refused("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", 400, "without kernel configuration");
        refused("PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}", 400, Lifecycle.NOT_SUPPORTED_PRE_BOOT);
        refused("PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}", 400, Lifecycle.NOT_SUPPORTED_PRE_BOOT);
        refused("PATCH", "/vm", "{\"state\": \"Paused\"}", 400, Lifecycle.NOT_SUPPORTED_PRE_BOOT);
        refused("PATCH", "/vm", "{\"state\": \"Resumed\"}", 400, Lifecycle.NOT_SUPPORTED_PRE_BOOT);
        refused("GET", "/nothing/here", null, 400, "Invalid request method and/or path: GET /nothing/here.");
        refused("POST", "/actions", "{\"action_type\": \"InstanceStart\"}", 400, "Invalid request method and/or path: POST");
        refused("DELETE", "/drives/rootfs", null, 400, "Invalid request method and/or path: DELETE");
        refused("GET", "/", "{}", 400, "GET request cannot have a body.");
        // Over Firecracker's 51200-byte limit: refused before the body is read, whatever it holds.
        String big = "{\"kernel_image_path\": \"" + "x".repeat(60 * 1024) + "\"}";
        refused("PUT", "/boot-source", big, 400, "is larger than the limit of 51200 allowed by server");
        assertEquals(null, launcher.launched);
    }

    @Test
    void aConfigurationRoundTripsThroughTheSocket() throws Exception {
        Path kernel = Files.writeString(dir.resolve("vmlinux"), "k");
        Path disk = Files.write(dir.resolve("rootfs.ext4"), new byte[4096]);
        assertEquals(204, Curl.put(socket, "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 256}").status());
        assertEquals(204, Curl.put(socket, "/boot-source", "{\"kernel_image_path\": \"" + kernel
                + "\", \"boot_args\": \"console=ttyS0 reboot=k panic=1\"}").status());
        assertEquals(204, Curl.put(socket, "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"" + disk
                + "\", \"is_root_device\": true, \"is_read_only\": false}").status());
        assertEquals(204, Curl.put(socket, "/entropy", "{}").status());
        Curl.Response mc = Curl.get(socket, "/machine-config");
        assertEquals(200, mc.status());
        assertEquals(2, json(mc.body()).get("vcpu_count"));
        Curl.Response config = Curl.get(socket, "/vm/config");
        assertEquals(200, config.status());
        Map<String, Object> c = json(config.body());
        assertEquals(kernel.toString(), ((Map<?, ?>) c.get("boot-source")).get("kernel_image_path"));
        assertEquals(Map.of(), c.get("entropy"));
        Curl.Response version = Curl.get(socket, "/version");
        assertEquals(Map.of("firecracker_version", Vmm.version()), json(version.body()));
        // InstanceStart reaches the launcher with the configuration; this one fails as a host without KVM does.
        Curl.Response start = Curl.put(socket, "/actions", "{\"action_type\": \"InstanceStart\"}");
        assertEquals(400, start.status());
        assertEquals("Start microvm error: no VM in this test", json(start.body()).get("fault_message"));
        assertEquals(256L << 20, launcher.launched.memoryBytes());
        stillServing();
    }

    @Test
    void malformedHttpGetsAJsonFaultToo() throws Exception {
        try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            ch.write(ByteBuffer.wrap("BOGUS\r\n\r\n".getBytes(StandardCharsets.US_ASCII)));
            ByteBuffer buf = ByteBuffer.allocate(4096);
            while (ch.read(buf) >= 0 && buf.hasRemaining()) {
                // until the server closes the connection
            }
            String reply = new String(buf.array(), 0, buf.position(), StandardCharsets.US_ASCII);
            assertTrue(reply.startsWith("HTTP/1.1 400"), reply);
            assertTrue(reply.contains("\"fault_message\""), reply);
        }
        stillServing();
    }

    @Test
    void theSocketIsOwnerOnlyAndGoneAfterClose() throws Exception {
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)));
        server.close();
        assertFalse(Files.exists(socket));
    }

    @Test
    void aSocketInUseIsRefusedAndAStaleOneReplaced() throws Exception {
        IOException busy = assertThrows(IOException.class, () -> ApiServer.start(socket, new Vmm("second", launcher)));
        assertTrue(busy.getMessage().contains("in use"), busy.getMessage());
        stillServing();
        // A socket file nobody listens on any more, as a killed process leaves it.
        Path stale = dir.resolve("stale.sock");
        try (ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.bind(UnixDomainSocketAddress.of(stale));
        }
        assertTrue(Files.exists(stale));
        try (ApiServer again = ApiServer.start(stale, new Vmm("third", launcher))) {
            assertEquals(200, Curl.get(stale, "/").status());
        }
        Path file = Files.writeString(dir.resolve("not-a-socket"), "x");
        IOException notSocket = assertThrows(IOException.class, () -> ApiServer.start(file, new Vmm("fourth", launcher)));
        assertTrue(notSocket.getMessage().contains("not a socket"), notSocket.getMessage());
        assertTrue(Files.exists(file));
    }
}
