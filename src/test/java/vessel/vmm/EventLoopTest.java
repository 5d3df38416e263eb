package vessel.vmm;

import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

import vessel.sys.EventFd;
import vessel.sys.Libc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Notifications reach their handler off the caller's thread; paused, they wait and none is lost. */
class EventLoopTest {
    @Test
    void handlersRunOnTheLoopAndPausingHoldsThemBack() throws Exception {
        AtomicInteger runs = new AtomicInteger();
        Semaphore ran = new Semaphore(0);
        try (EventLoop loop = new EventLoop(); EventFd fd = new EventFd(Libc.EFD_NONBLOCK)) {
            loop.add(fd, () -> {
                assertTrue(Thread.currentThread().getName().equals("test-loop"));
                runs.incrementAndGet();
                ran.release();
            });
            loop.start("test-loop");
            fd.signal();
            assertTrue(ran.tryAcquire(10, TimeUnit.SECONDS));
            assertEquals(1, runs.get());

            loop.pause();
            fd.signal();
            fd.signal();
            assertFalse(ran.tryAcquire(300, TimeUnit.MILLISECONDS), "a handler ran while paused");
            loop.resume();
            assertTrue(ran.tryAcquire(10, TimeUnit.SECONDS), "the held notification was lost");
            assertEquals(2, runs.get(), "two signals while paused are one notification, as an eventfd counts");
        }
    }
}
