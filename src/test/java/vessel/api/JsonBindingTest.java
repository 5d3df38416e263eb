package vessel.api;

import java.nio.charset.StandardCharsets;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

import vessel.json.JsonValue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * The binding of Firecracker's bodies (Model's fromJson through Fields): each refusal is one line in
 * serde's words, naming the field with its path, and what is written back is Firecracker's shape.
 */
class JsonBindingTest {
    private static String fault(String method, String path, String body) throws Exception {
        Router router = new Router(new Vmm("binding", new RouterTest.RecordingLauncher()));
        Router.Reply r = router.handle(method, path, body.getBytes(StandardCharsets.UTF_8));
        assertEquals(400, r.status(), body);
        String m = JsonValue.parse(r.body()).get("fault_message").asString();
        assertFalse(m.contains("\n"), m);
        return m.substring(Json.PREFIX.length());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', quoteCharacter = '\'', value = {
        "string for an integer | /machine-config | {\"vcpu_count\": \"2\", \"mem_size_mib\": 128} | invalid type for field `vcpu_count`: string \"2\", expected an integer.",
        "float for an integer  | /machine-config | {\"vcpu_count\": 2.0, \"mem_size_mib\": 128} | invalid type for field `vcpu_count`: floating point `2.0`, expected an integer.",
        "beyond i32            | /machine-config | {\"vcpu_count\": 4294967297, \"mem_size_mib\": 1} | invalid value: integer `4294967297`, expected i32 for field `vcpu_count`.",
        "beyond i64            | /machine-config | {\"vcpu_count\": 1, \"mem_size_mib\": 99999999999999999999} | invalid value: integer `99999999999999999999`, expected i64 for field `mem_size_mib`.",
        "duplicate key         | /machine-config | {\"vcpu_count\": 1, \"vcpu_count\": 2} | duplicate field `vcpu_count` at line 1 column 19.",
        "trailing data         | /machine-config | {} x | trailing characters at line 1 column 4.",
        "not an object         | /machine-config | [1, 2] | invalid type: sequence, expected struct MachineConfig.",
        "null body             | /machine-config | null | invalid type: null, expected struct MachineConfig.",
        "unknown field         | /boot-source    | {\"kernel_image_path\": \"k\", \"x\\ny\": 1} | unknown field `x?y`, expected `boot_args`, `initrd_path`, `kernel_image_path`.",
        "missing field         | /boot-source    | {} | missing field `kernel_image_path`.",
        "null required field   | /boot-source    | {\"kernel_image_path\": null} | invalid type: null for field `kernel_image_path`.",
        "nested field          | /drives/a       | {\"drive_id\": \"a\", \"is_root_device\": false, \"rate_limiter\": {\"bandwidth\": {\"size\": true, \"refill_time\": 1}}} | invalid type for field `rate_limiter.bandwidth.size`: boolean `true`, expected an integer.",
        "list element          | /mmds/config    | {\"network_interfaces\": [\"eth0\", 5]} | invalid type for field `network_interfaces[1]`: integer `5`, expected a string.",
        "unknown variant       | /actions        | {\"action_type\": \"Reboot\"} | unknown variant `Reboot` for field `action_type`, expected `FlushMetrics`, `InstanceStart`, `SendCtrlAltDel`.",
        "number for a variant  | /actions        | {\"action_type\": 1} | invalid type for field `action_type`: integer `1`, expected one of `FlushMetrics`, `InstanceStart`, `SendCtrlAltDel`.",
        "bad JSON              | /actions        | {\"action_type\": | EOF while parsing a value at line 1 column 15.",
        "lone surrogate        | /mmds           | {\"a\": \"\\ud800\"} | lone leading surrogate in hex escape at line 1 column 14.",
    })
    void refusalsAreOneLineNamingTheField(String name, String path, String body, String message) throws Exception {
        assertEquals(message, fault("PUT", path, body));
    }

    @Test
    void theMmdsDocumentKeepsTheLastOfARepeatedKey() throws Exception {
        Router router = new Router(new Vmm("binding", new RouterTest.RecordingLauncher()));
        assertEquals(204, router.handle("PUT", "/mmds", "{\"b\": 1, \"a\": 2, \"b\": 3}".getBytes(StandardCharsets.UTF_8)).status());
        assertEquals("{\"a\":2,\"b\":3}", new String(router.handle("GET", "/mmds", null).body(), StandardCharsets.UTF_8));
    }

    @Test
    void vmConfigIsWrittenInFirecrackersShape() throws Exception {
        Router router = new Router(new Vmm("binding", new RouterTest.RecordingLauncher()));
        assertEquals("{\"balloon\":null,\"drives\":[],\"boot-source\":null,\"cpu-config\":null,\"logger\":null,"
                + "\"machine-config\":{\"vcpu_count\":1,\"mem_size_mib\":128,\"smt\":false,\"track_dirty_pages\":false,"
                + "\"huge_pages\":\"None\"},\"metrics\":null,\"mmds-config\":null,\"network-interfaces\":[],\"vsock\":null,"
                + "\"entropy\":null}", new String(router.handle("GET", "/vm/config", null).body(), StandardCharsets.UTF_8));
    }
}
