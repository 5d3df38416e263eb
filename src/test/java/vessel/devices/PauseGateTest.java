package vessel.devices;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** pause() waits for the pass in progress and holds back new ones until resume(). */
class PauseGateTest {
    @Test
    void pauseWaitsForThePassInProgressAndHoldsBackTheNext() throws Exception {
        PauseGate gate = new PauseGate();
        assertTrue(gate.enter());
        CountDownLatch paused = new CountDownLatch(1);
        Thread pauser = Thread.ofPlatform().daemon(true).start(() -> {
            try {
                gate.pause();
                paused.countDown();
            } catch (InterruptedException ignored) {
                // the test failed already
            }
        });
        assertFalse(paused.await(200, TimeUnit.MILLISECONDS), "pause returned while a pass was in progress");
        gate.leave();
        assertTrue(paused.await(5, TimeUnit.SECONDS));
        pauser.join();

        AtomicBoolean passed = new AtomicBoolean();
        Thread worker = Thread.ofPlatform().daemon(true).start(() -> {
            if (gate.enter()) {
                passed.set(true);
                gate.leave();
            }
        });
        worker.join(200);
        assertFalse(passed.get(), "a pass started while paused");
        gate.resume();
        worker.join(5000);
        assertTrue(passed.get(), "resume let the waiting pass go");
    }
}
