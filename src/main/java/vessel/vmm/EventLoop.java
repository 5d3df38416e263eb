package vessel.vmm;

import java.util.ArrayList;
import java.util.List;

import vessel.devices.PauseGate;
import vessel.sys.Epoll;
import vessel.sys.EventFd;
import vessel.sys.Seccomp;
import vessel.sys.SysException;

/**
 * One thread per VM that waits on eventfds (queue notifications KVM signals through ioeventfds) and
 * runs their handlers, so device work happens off the vCPU threads. Handlers are registered before
 * {@link #start}; each one drains its eventfd before running, so no notification is lost between a
 * run and the next wait. A handler that stopped at its per-pass budget says so, and its eventfd is
 * signalled again: the loop serves the other ready sources first, then it once more.
 */
final class EventLoop implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("vessel.vmm");

    /** Serves one source's notification; returns true when it left work for another pass. */
    @FunctionalInterface
    interface Handler {
        boolean run();
    }

    private record Source(EventFd fd, Handler handler) {
    }

    private final List<Source> sources = new ArrayList<>();
    private final EventFd stop;
    private final Epoll epoll;
    private Thread thread;
    /** Each handler run is a pass through it; devices with threads of their own share it. */
    private final PauseGate gate = new PauseGate();

    EventLoop() throws SysException {
        this.stop = new EventFd(0);
        this.epoll = new Epoll(16);
    }

    /**
     * Test hook: with this system property set, the loop's thread makes a call its seccomp table refuses
     * (a KVM ioctl) as it starts, so a test can see the filter end the process. Nothing else reads it.
     */
    static final String FORBIDDEN_CALL_PROPERTY = "vessel.test.eventLoopForbiddenCall";

    /** ioctl(-1, KVM_CREATE_VM): the process filter lets any ioctl through, the event loop's none of KVM's. */
    private static void forbiddenCall() {
        long r = vessel.sys.Libc.syscallRaw(vessel.sys.Syscall.IOCTL.number(), -1,
                vessel.kvm.KvmIoctl.CREATE_VM.request(), 0);
        LOG.log(System.Logger.Level.WARNING, "test hook: the forbidden ioctl returned " + r);
    }

    /** Runs {@code handler} on the loop's thread each time {@code fd} is signalled. */
    void add(EventFd fd, Handler handler) throws SysException {
        if (thread != null) {
            throw new IllegalStateException("event sources are registered before the loop starts");
        }
        sources.add(new Source(fd, handler));
        epoll.add(fd.fd(), sources.size() - 1);
    }

    boolean isEmpty() {
        return sources.isEmpty();
    }

    void start(String name) throws SysException {
        epoll.add(stop.fd(), -1);
        thread = Thread.ofPlatform().name(name).daemon(true).start(this::run);
    }

    private void run() {
        try {
            Seccomp.enterThread(Seccomp.ThreadKind.EVENT_LOOP);
            if (Boolean.getBoolean(FORBIDDEN_CALL_PROPERTY)) {
                forbiddenCall();
            }
            while (true) {
                int n = epoll.await(-1);
                for (int i = 0; i < n; i++) {
                    long token = epoll.token(i);
                    if (token < 0) {
                        return;
                    }
                    Source s = sources.get((int) token);
                    if (!gate.enter()) {
                        LOG.log(System.Logger.Level.ERROR, "event loop interrupted while paused; stopped");
                        return;
                    }
                    try {
                        s.fd().drain();
                        if (s.handler().run()) {
                            s.fd().signal();
                        }
                    } catch (RuntimeException | Error e) {
                        // A device bug (an Error too: a stack overflow on hostile input, say) must not
                        // take the other devices' notifications down with it. The transport already
                        // failed the device itself; this catches what escapes even that.
                        LOG.log(System.Logger.Level.ERROR, "device handler failed", e);
                    } finally {
                        gate.leave();
                    }
                }
            }
        } catch (SysException e) {
            LOG.log(System.Logger.Level.ERROR, "event loop stopped: " + e.getMessage());
        } catch (RuntimeException | Error e) {
            LOG.log(System.Logger.Level.ERROR, "event loop stopped", e); // never silently
        }
    }

    /** The gate every pass of device work goes through, this loop's handlers and device threads alike. */
    PauseGate gate() {
        return gate;
    }

    /**
     * Stops device work: returns once no handler runs and no device thread is in a pass, and none starts
     * until {@link #resume}. A notification that arrives meanwhile stays in its eventfd (a device
     * thread's work in its socket or TAP) and is served after resuming.
     */
    void pause() throws InterruptedException {
        gate.pause();
    }

    void resume() {
        gate.resume();
    }

    @Override
    public void close() {
        resume();
        try {
            stop.signal();
            if (thread != null) {
                thread.join(5000);
            }
        } catch (SysException | InterruptedException e) {
            LOG.log(System.Logger.Level.WARNING, "event loop did not stop cleanly: " + e.getMessage());
        }
        epoll.close();
        stop.close();
    }
}
