package vessel.api;

import java.nio.charset.StandardCharsets;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/** Findings of ApiFuzzTest whose fix belongs to code being reworked elsewhere; each names its fix. */
class ApiFuzzFindingsTest {
    @Test
    @Disabled("fuzz finding (ApiFuzzTest.requestBodies): Router echoes the request path unescaped into "
            + "'Invalid request method and/or path: ...', so a path with %0A gives a multi-line fault_message; "
            + "the fix (escape control characters in echoed paths) belongs to vessel.api.Router, which is being "
            + "reworked on another branch")
    void anUnknownPathWithANewlineGetsAOneLineFaultMessage() throws Exception {
        Router router = new Router(new Vmm("fuzz-vm", new RouterTest.RecordingLauncher()));
        Router.Reply reply = router.handle("GET", "/\n\u0000\u0000\u0000", null);
        assertEquals(400, reply.status());
        String message = new ObjectMapper().readTree(reply.body()).get("fault_message").asText();
        assertFalse(message.contains("\n"), message);
    }
}
