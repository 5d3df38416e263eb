package vessel.vmm.control;

import java.util.EnumSet;
import java.util.Set;

import org.junit.jupiter.api.Test;

import vessel.vmm.control.Lifecycle.Operation;
import vessel.vmm.control.Lifecycle.State;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Firecracker's pre-boot and post-boot rules, operation by operation, state by state. */
class LifecycleTest {
    private static final Set<Operation> PRE_BOOT = EnumSet.of(Operation.READ, Operation.CONFIGURE, Operation.START,
            Operation.SNAPSHOT_LOAD);
    private static final Set<Operation> POST_BOOT = EnumSet.of(Operation.READ, Operation.UPDATE_DEVICE,
            Operation.PAUSE, Operation.RESUME, Operation.CTRL_ALT_DEL, Operation.FLUSH_METRICS, Operation.SNAPSHOT_CREATE);

    private static void assertAllows(Lifecycle l, Set<Operation> allowed) {
        for (Operation op : Operation.values()) {
            if (allowed.contains(op)) {
                assertDoesNotThrow(l, op);
            } else {
                VmmActionException e = assertThrows(VmmActionException.class, () -> l.check(op), op + " in " + l.state());
                assertEquals(400, e.status());
                assertEquals(l.state() == State.NOT_STARTED ? Lifecycle.NOT_SUPPORTED_PRE_BOOT
                        : Lifecycle.NOT_SUPPORTED_POST_BOOT, e.getMessage());
            }
        }
    }

    private static void assertDoesNotThrow(Lifecycle l, Operation op) {
        try {
            l.check(op);
        } catch (VmmActionException e) {
            throw new AssertionError(op + " refused in " + l.state() + ": " + e.getMessage());
        }
    }

    @Test
    void beforeBootOnlyConfigurationStartAndReads() {
        Lifecycle l = new Lifecycle();
        assertEquals(State.NOT_STARTED, l.state());
        assertEquals("Not started", l.state().apiName());
        assertAllows(l, PRE_BOOT);
    }

    @Test
    void afterBootNoConfigurationNoSecondStart() {
        Lifecycle l = new Lifecycle();
        l.started();
        assertEquals("Running", l.state().apiName());
        assertAllows(l, POST_BOOT);
        l.paused();
        assertEquals("Paused", l.state().apiName());
        assertAllows(l, POST_BOOT);
        l.resumed();
        assertEquals(State.RUNNING, l.state());
    }

    @Test
    void pauseAndResumeAreIdempotentAsInFirecracker() {
        Lifecycle l = new Lifecycle();
        l.started();
        l.paused();
        l.paused();
        assertEquals(State.PAUSED, l.state());
        l.resumed();
        l.resumed();
        assertEquals(State.RUNNING, l.state());
    }

    @Test
    void aLoadedSnapshotIsBootedPausedOrRunning() {
        Lifecycle paused = new Lifecycle();
        paused.loaded(false);
        assertEquals(State.PAUSED, paused.state());
        assertAllows(paused, POST_BOOT);
        Lifecycle running = new Lifecycle();
        running.loaded(true);
        assertEquals(State.RUNNING, running.state());
    }

    @Test
    void transitionsThatCannotHappenAreBugs() {
        Lifecycle l = new Lifecycle();
        assertThrows(IllegalStateException.class, l::paused);
        assertThrows(IllegalStateException.class, l::resumed);
        l.started();
        assertThrows(IllegalStateException.class, l::started);
        assertThrows(IllegalStateException.class, () -> l.loaded(true));
        assertTrue(POST_BOOT.contains(Operation.READ) && PRE_BOOT.contains(Operation.READ));
    }
}
