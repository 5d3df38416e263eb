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
                return false;
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

    @Test
    void aHandlerThatThrowsAnErrorDoesNotStopTheLoop() throws Exception {
        Semaphore ran = new Semaphore(0);
        AtomicInteger failures = new AtomicInteger();
        try (EventLoop loop = new EventLoop(); EventFd failing = new EventFd(Libc.EFD_NONBLOCK);
             EventFd healthy = new EventFd(Libc.EFD_NONBLOCK)) {
            loop.add(failing, () -> {
                failures.incrementAndGet();
                throw new StackOverflowError("device recursed on hostile input");
            });
            loop.add(healthy, () -> {
                ran.release();
                return false;
            });
            loop.start("test-loop");
            failing.signal();
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (failures.get() == 0 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertEquals(1, failures.get());
            healthy.signal();
            assertTrue(ran.tryAcquire(10, TimeUnit.SECONDS), "the loop died with the failing handler");
            failing.signal();
            healthy.signal();
            assertTrue(ran.tryAcquire(10, TimeUnit.SECONDS));
            assertEquals(2, failures.get(), "the failing source is still served: the transport decides to stop it");
        }
    }

    @Test
    void aHandlerThatLeftWorkRunsAgainAfterTheOthers() throws Exception {
        java.util.List<String> order = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
        Semaphore done = new Semaphore(0);
        AtomicInteger passesLeft = new AtomicInteger(3);
        try (EventLoop loop = new EventLoop(); EventFd busy = new EventFd(Libc.EFD_NONBLOCK);
             EventFd other = new EventFd(Libc.EFD_NONBLOCK)) {
            loop.add(busy, () -> {
                order.add("busy");
                boolean more = passesLeft.decrementAndGet() > 0;
                if (!more) {
                    done.release();
                }
                return more;
            });
            loop.add(other, () -> {
                order.add("other");
                return false;
            });
            busy.signal();
            other.signal();
            loop.start("test-loop");
            assertTrue(done.tryAcquire(10, TimeUnit.SECONDS), "the busy source was not served again: " + order);
            assertEquals(3, order.stream().filter("busy"::equals).count(), order.toString());
            assertTrue(order.indexOf("other") < order.lastIndexOf("busy"), "other waited for all of busy: " + order);
        }
    }
}
