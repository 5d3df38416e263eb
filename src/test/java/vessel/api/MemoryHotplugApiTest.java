package vessel.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import vessel.json.JsonValue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import vessel.vmm.MemoryHotplugConfig;

/**
 * PUT, PATCH and GET /hotplug/memory through the router, before and after a (fake) boot: Firecracker's defaults
 * and checks at PUT, the phase rules, the requested size reaching the device, and one-line refusals.
 */
class MemoryHotplugApiTest {

    @TempDir
    Path dir;

    private final RouterTest.RecordingLauncher launcher = new RouterTest.RecordingLauncher();
    private FirecrackerApiConformanceTest.FakeVm booted;
    private vessel.vmm.VmConfig launched;

    private Router router() throws IOException {
        Vmm vmm = new Vmm("hotplug", launcher, config -> {
            launched = config;
            return booted = new FirecrackerApiConformanceTest.FakeVm(config);
        });
        Router router = new Router(vmm);
        Path kernel = Files.writeString(dir.resolve("vmlinux"), "kernel");
        expect(router, "PUT", "/boot-source", "{\"kernel_image_path\": \"" + kernel + "\"}", 204);
        return router;
    }

    private static Router.Reply expect(Router router, String method, String path, String body, int status) {
        Router.Reply r = router.handle(method, path, body == null ? null : body.getBytes(StandardCharsets.UTF_8));
        String text = r.body() == null ? "" : new String(r.body(), StandardCharsets.UTF_8);
        assertEquals(status, r.status(), method + " " + path + " " + body + ": " + text);
        return r;
    }

    private static String fault(Router router, String method, String path, String body) throws IOException {
        String m = JsonValue.parse(expect(router, method, path, body, 400).body()).get("fault_message").asString();
        assertTrue(!m.contains("\n") && !m.contains("Exception"), m);
        return m;
    }

    @Test
    void putFillsInFirecrackersDefaultsAndGetShowsThemBeforeBoot() throws IOException {
        Router router = router();
        assertTrue(fault(router, "GET", "/hotplug/memory", null).contains("No memory hotplug device"));
        expect(router, "PUT", "/hotplug/memory", "{\"total_size_mib\": 1024}", 204);
        JsonValue s = JsonValue.parse(expect(router, "GET", "/hotplug/memory", null, 200).body());
        assertEquals(1024, s.get("total_size_mib").asLong());
        assertEquals(2, s.get("block_size_mib").asLong());
        assertEquals(128, s.get("slot_size_mib").asLong());
        assertEquals(0, s.get("plugged_size_mib").asLong());
        assertEquals(0, s.get("requested_size_mib").asLong());
        JsonValue config = JsonValue.parse(expect(router, "GET", "/vm/config", null, 200).body());
        assertEquals(1024, config.get("memory-hotplug").get("total_size_mib").asLong());
        assertTrue(fault(router, "PATCH", "/hotplug/memory", "{\"requested_size_mib\": 2}")
                .contains("not supported before starting"));
        expect(router, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", 204);
        assertEquals(new MemoryHotplugConfig(1024, 2, 128), launched.memoryHotplug());
    }

    @Test
    void eachBadPutIsOneLineNamingTheRule() throws IOException {
        Router router = router();
        assertTrue(fault(router, "PUT", "/hotplug/memory", "{}").contains("missing field `total_size_mib`"));
        assertTrue(fault(router, "PUT", "/hotplug/memory", "{\"total_size_mib\": -1}").contains("expected u32"));
        assertTrue(fault(router, "PUT", "/hotplug/memory", "{\"total_size_mib\": 1024, \"block_size_mib\": 1}")
                .contains("Block size must not be lower than 2 MiB"));
        assertTrue(fault(router, "PUT", "/hotplug/memory", "{\"total_size_mib\": 1024, \"block_size_mib\": 6}")
                .contains("Block size must be a power of 2"));
        assertTrue(fault(router, "PUT", "/hotplug/memory", "{\"total_size_mib\": 1024, \"slot_size_mib\": 64}")
                .contains("Slot size must not be lower than 128 MiB"));
        assertTrue(fault(router, "PUT", "/hotplug/memory",
                "{\"total_size_mib\": 1024, \"block_size_mib\": 256, \"slot_size_mib\": 384}")
                .contains("Slot size must be a multiple of block size (256 MiB)"));
        assertTrue(fault(router, "PUT", "/hotplug/memory", "{\"total_size_mib\": 64}")
                .contains("Total size must not be lower than slot size (128 MiB)"));
        assertTrue(fault(router, "PUT", "/hotplug/memory", "{\"total_size_mib\": 1024, \"plugged\": 1}")
                .contains("unknown field `plugged`"));
        assertTrue(fault(router, "PUT", "/hotplug/memory", "{\"total_size_mib\": 4194304}")
                .contains("Total size must not be more than"));
        assertTrue(fault(router, "PUT", "/hotplug/memory", null).contains("Empty PUT request"));
    }

    @Test
    void patchAfterBootReachesTheDeviceAndIsCheckedAgainstItsGeometry() throws IOException {
        Router router = router();
        expect(router, "PUT", "/hotplug/memory", "{\"total_size_mib\": 256, \"block_size_mib\": 4}", 204);
        expect(router, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", 204);
        expect(router, "PATCH", "/hotplug/memory", "{\"requested_size_mib\": 128}", 204);
        assertEquals(128L << 20, booted.memoryHotplug().status().requestedSize());
        JsonValue s = JsonValue.parse(expect(router, "GET", "/hotplug/memory", null, 200).body());
        assertEquals(128, s.get("requested_size_mib").asLong());
        assertEquals(4, s.get("block_size_mib").asLong());
        assertTrue(fault(router, "PATCH", "/hotplug/memory", "{\"requested_size_mib\": 258}")
                .contains("multiple of the block size (4 MiB) and at most the total size (256 MiB)"));
        assertTrue(fault(router, "PATCH", "/hotplug/memory", "{\"requested_size_mib\": 6}").contains("multiple"));
        assertTrue(fault(router, "PATCH", "/hotplug/memory", "{}").contains("missing field `requested_size_mib`"));
        assertTrue(fault(router, "PUT", "/hotplug/memory", "{\"total_size_mib\": 256}").contains("after starting"));
        assertEquals(128L << 20, booted.memoryHotplug().status().requestedSize(), "refused PATCHes change nothing");
    }

    @Test
    void withoutTheDeviceAPatchAfterBootSaysSo() throws IOException {
        Router router = router();
        expect(router, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", 204);
        assertTrue(fault(router, "PATCH", "/hotplug/memory", "{\"requested_size_mib\": 2}")
                .contains("No memory hotplug device found"));
    }
}
