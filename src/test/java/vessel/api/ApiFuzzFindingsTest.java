package vessel.api;

import java.nio.charset.StandardCharsets;

import vessel.json.JsonValue;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/** Findings of ApiFuzzTest, kept as regression tests. */
class ApiFuzzFindingsTest {
    /** ApiFuzzTest.requestBodies: a path with %0A used to give a multi-line fault_message. */
    @Test
    void anUnknownPathWithANewlineGetsAOneLineFaultMessage() throws Exception {
        Router router = new Router(new Vmm("fuzz-vm", new RouterTest.RecordingLauncher()));
        Router.Reply reply = router.handle("GET", "/\n\u0000\u0000\u0000", null);
        assertEquals(400, reply.status());
        String message = JsonValue.parse(reply.body()).get("fault_message").asString();
        assertFalse(message.contains("\n"), message);
    }
}
