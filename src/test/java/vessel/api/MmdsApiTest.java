package vessel.api;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import vessel.json.JsonValue;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import vessel.vmm.NetConfig;
import vessel.vmm.control.Lifecycle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

/** PUT/PATCH/GET /mmds and PUT /mmds/config through the request table: valid and invalid bodies, Firecracker's answers. */
class MmdsApiTest {
    @TempDir
    Path dir;
    private RouterTest.RecordingLauncher launcher;
    private Vmm vmm;
    private Router router;

    @BeforeEach
    void setUp() {
        launcher = new RouterTest.RecordingLauncher();
        vmm = new Vmm("mmds-vm", launcher, 200);
        router = new Router(vmm);
    }

    private Router.Reply call(String method, String path, String body) {
        return router.handle(method, path, body == null ? null : body.getBytes(StandardCharsets.UTF_8));
    }

    private void ok(String method, String path, String body) {
        Router.Reply r = call(method, path, body);
        assertEquals(204, r.status(), () -> method + " " + path + ": " + text(r));
        assertNull(r.body());
    }

    private static String text(Router.Reply r) {
        return r.body() == null ? "" : new String(r.body(), StandardCharsets.UTF_8);
    }

    private String fault(int status, String method, String path, String body) throws IOException {
        Router.Reply r = call(method, path, body);
        assertEquals(status, r.status(), () -> method + " " + path + " " + body + ": " + text(r));
        @SuppressWarnings("unchecked")
        Map<String, Object> f = ((Map) JsonValue.parse(r.body()).toPlain());
        return (String) f.get("fault_message");
    }

    @Test
    void putPatchGetFollowJsonMergePatch() throws IOException {
        assertEquals("{}", text(call("GET", "/mmds", null)), "before any PUT");
        ok("PUT", "/mmds", "{\"latest\": {\"meta-data\": {\"ami-id\": \"ami-1\", \"zone\": \"a\"}}, \"b\": 1}");
        assertEquals("{\"b\":1,\"latest\":{\"meta-data\":{\"ami-id\":\"ami-1\",\"zone\":\"a\"}}}",
                text(call("GET", "/mmds", null)), "compact, keys sorted as Firecracker's serde_json map");
        ok("PATCH", "/mmds", "{\"latest\": {\"meta-data\": {\"ami-id\": \"ami-2\", \"zone\": null}}, \"c\": [1]}");
        assertEquals("{\"b\":1,\"c\":[1],\"latest\":{\"meta-data\":{\"ami-id\":\"ami-2\"}}}",
                text(call("GET", "/mmds", null)));
        ok("PUT", "/mmds", "{\"x\": \"y\"}"); // PUT replaces everything
        assertEquals("{\"x\":\"y\"}", text(call("GET", "/mmds", null)));
        ok("PATCH", "/mmds", "\"scalar\""); // RFC 7396: a non-object patch replaces the document
        assertEquals("\"scalar\"", text(call("GET", "/mmds", null)));
    }

    @Test
    void patchBeforePutAndOversizedDocumentsAreRefusedAsFirecracker() throws IOException {
        assertEquals("MMDS error: The MMDS data store is not initialized.", fault(400, "PATCH", "/mmds", "{\"a\": 1}"));
        String big = "{\"k\": \"" + "x".repeat(200) + "\"}";
        assertEquals("MMDS limit exceeded error: The MMDS patch request doesn't fit.", fault(413, "PUT", "/mmds", big));
        ok("PUT", "/mmds", "{\"k\": \"small\"}");
        assertEquals("MMDS limit exceeded error: The MMDS patch request doesn't fit.",
                fault(413, "PATCH", "/mmds", big));
        assertEquals("{\"k\":\"small\"}", text(call("GET", "/mmds", null)), "a refused PATCH changes nothing");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', quoteCharacter = '\'', value = {
        "bad JSON         | PUT   | /mmds        | {\"a\":                      | deserializing",
        "trailing data    | PUT   | /mmds        | {\"a\": 1} x                 | deserializing",
        "bad JSON (patch) | PATCH | /mmds        | [                           | deserializing",
        "unknown subpath  | PUT   | /mmds/other  | {}                          | Unrecognized PUT request path `other`.",
        "patch config     | PATCH | /mmds/config | {}                          | Invalid request method and/or path",
        "no interfaces    | PUT   | /mmds/config | {\"version\": \"V2\"}       | missing field `network_interfaces`",
        "bad version      | PUT   | /mmds/config | {\"version\": \"V3\", \"network_interfaces\": [\"eth0\"]} | unknown variant `V3`",
        "unknown field    | PUT   | /mmds/config | {\"network_interfaces\": [\"eth0\"], \"mtu\": 1} | unknown field `mtu`",
        "empty list       | PUT   | /mmds/config | {\"network_interfaces\": []} | MMMDS config error: The list of network interface IDs that allow forwarding MMDS requests is empty.",
        "unknown iface    | PUT   | /mmds/config | {\"network_interfaces\": [\"eth9\"]} | MMMDS config error: The list of network interface IDs provided contains at least one ID that does not correspond to any existing network interface.",
        "not link local   | PUT   | /mmds/config | {\"network_interfaces\": [\"eth0\"], \"ipv4_address\": \"10.0.0.1\"} | MMMDS config error: The MMDS IPv4 address is not link local.",
        "169.254.0.x      | PUT   | /mmds/config | {\"network_interfaces\": [\"eth0\"], \"ipv4_address\": \"169.254.0.9\"} | not link local",
        "not an address   | PUT   | /mmds/config | {\"network_interfaces\": [\"eth0\"], \"ipv4_address\": \"169.254.1\"} | invalid IPv4 address syntax",
        "compat not bool  | PUT   | /mmds/config | {\"network_interfaces\": [\"eth0\"], \"imds_compat\": \"yes\"} | imds_compat",
    })
    void invalidBodiesAreRefused(String name, String method, String path, String body, String fragment)
            throws IOException {
        ok("PUT", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\"}");
        String message = fault(400, method, path, body);
        assertEquals(1, message.lines().count(), message);
        assertEquals(true, message.contains(fragment), message);
    }

    @Test
    void mmdsConfigReachesTheNetworkInterfacesAndVmConfig() throws IOException {
        Path kernel = Files.writeString(dir.resolve("vmlinux"), "kernel");
        ok("PUT", "/boot-source", "{\"kernel_image_path\": \"" + kernel + "\"}");
        ok("PUT", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\"}");
        ok("PUT", "/network-interfaces/eth1", "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\"}");
        ok("PUT", "/mmds/config", "{\"version\": \"V2\", \"network_interfaces\": [\"eth1\"], "
                + "\"ipv4_address\": \"169.254.170.2\", \"imds_compat\": true}");
        assertEquals(Map.of("version", "V2", "network_interfaces", List.of("eth1"), "ipv4_address", "169.254.170.2",
                "imds_compat", true), ((Map) JsonValue.parse(call("GET", "/vm/config", null).body()).toPlain())
                .get("mmds-config"));
        call("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}"); // the launcher records, then fails
        List<NetConfig> nets = launcher.launched.net();
        assertNull(nets.get(0).mmds(), "eth0 is not listed: its frames all go to the TAP");
        assertNotNull(nets.get(1).mmds());
        assertEquals(0xA9FEAA02, nets.get(1).mmds().ipv4Address());
        assertEquals(vessel.devices.mmds.MmdsStore.Version.V2, nets.get(1).mmds().version());
        assertEquals(true, nets.get(1).mmds().imdsCompat());
        ok("PUT", "/mmds", "{\"a\": \"b\"}");
        assertSame(nets.get(1).mmds(), launcher.launched.net().get(1).mmds());
        assertEquals("{\"a\":\"b\"}", nets.get(1).mmds().json(), "the guest sees the API's later PUTs");
    }

    @Test
    void afterBootConfigIsRefusedAndDataStillChanges() throws IOException {
        vmm = new Vmm("mmds-vm", launcher, config -> new RouterTest.FakeVm(config), 200);
        router = new Router(vmm);
        Path kernel = Files.writeString(dir.resolve("vmlinux"), "kernel");
        ok("PUT", "/boot-source", "{\"kernel_image_path\": \"" + kernel + "\"}");
        ok("PUT", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\"}");
        ok("PUT", "/mmds/config", "{\"network_interfaces\": [\"eth0\"]}");
        ok("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
        assertEquals(Lifecycle.NOT_SUPPORTED_POST_BOOT, fault(400, "PUT", "/mmds/config",
                "{\"network_interfaces\": [\"eth0\"]}"));
        ok("PUT", "/mmds", "{\"a\": 1}");
        ok("PATCH", "/mmds", "{\"b\": 2}");
        assertEquals("{\"a\":1,\"b\":2}", text(call("GET", "/mmds", null)));
    }

    @Test
    void configFileMmdsConfigIsApplied() throws IOException {
        Path kernel = Files.writeString(dir.resolve("vmlinux"), "kernel");
        String json = """
                {"boot-source": {"kernel_image_path": "%s"},
                 "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "tap0"}],
                 "mmds-config": {"version": "V2", "network_interfaces": ["eth0"]}}
                """.formatted(kernel);
        ApiException e = org.junit.jupiter.api.Assertions.assertThrows(ApiException.class,
                () -> vmm.bootFromConfigFile(json.getBytes(StandardCharsets.UTF_8)));
        assertEquals(true, e.getMessage().contains("no VM in this test"), e.getMessage());
        assertNotNull(launcher.launched.net().getFirst().mmds());
        assertEquals(vessel.devices.mmds.MmdsStore.Version.V2, launcher.launched.net().getFirst().mmds().version());
        String bad = json.replace("[\"eth0\"]}", "[\"eth7\"]}");
        ApiException refused = org.junit.jupiter.api.Assertions.assertThrows(ApiException.class,
                () -> new Vmm("y", launcher).bootFromConfigFile(bad.getBytes(StandardCharsets.UTF_8)));
        assertEquals(true, refused.getMessage().contains("does not correspond to any existing network interface"),
                refused.getMessage());
    }
}
