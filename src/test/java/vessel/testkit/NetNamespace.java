package vessel.testkit;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import org.junit.jupiter.api.Assumptions;

/**
 * A network namespace of the test's own, held by one thread: {@code unshare(CLONE_NEWNET)} moves only
 * the calling thread, so whatever {@link #run} runs there (opening a TAP, binding a server socket,
 * starting {@code ip} as a child process) lives in the namespace, and its traffic never reaches the
 * host's interfaces. The namespace goes away when the thread ends and nothing holds it.
 */
public final class NetNamespace implements AutoCloseable {
    private static final int CLONE_NEWNET = 0x40000000;

    private final ExecutorService thread = Executors.newSingleThreadExecutor(
            r -> Thread.ofPlatform().name("netns").daemon(true).unstarted(r));

    private NetNamespace() {}

    /** A fresh namespace, or an exception whose message says why there is none (no privilege, say). */
    public static NetNamespace create() throws Exception {
        NetNamespace ns = new NetNamespace();
        int errno = ns.run(NetNamespace::unshareNet);
        if (errno != 0) {
            ns.close();
            throw new IllegalStateException("unshare(CLONE_NEWNET) failed with errno " + errno
                    + (errno == 1 ? " (EPERM: needs CAP_SYS_ADMIN)" : ""));
        }
        return ns;
    }

    /**
     * A fresh namespace holding TAP {@code tap}, with the host side's address {@code hostCidr} and up when that
     * is not null; the calling test is aborted (skipped, with the reason) where there can be none.
     */
    public static NetNamespace withTap(String tap, String hostCidr) {
        NetNamespace ns = null;
        try {
            ns = create();
            ns.tool("ip", "tuntap", "add", tap, "mode", "tap");
            if (hostCidr != null) {
                ns.tool("ip", "addr", "add", hostCidr, "dev", tap);
                ns.tool("ip", "link", "set", tap, "up");
            }
            return ns;
        } catch (Exception | AssertionError e) {
            if (ns != null) {
                ns.close();
            }
            Assumptions.abort("no network namespace with a TAP here: " + e.getMessage());
            throw new AssertionError(e); // not reached: abort throws
        }
    }

    private static int unshareNet() {
        Linker linker = Linker.nativeLinker();
        StructLayout capture = Linker.Option.captureStateLayout();
        MethodHandle unshare = linker.downcallHandle(linker.defaultLookup().find("unshare").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT),
                Linker.Option.captureCallState("errno"));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(capture);
            int r = (int) unshare.invokeExact(state, CLONE_NEWNET);
            return r == 0 ? 0 : (int) capture.varHandle(MemoryLayout.PathElement.groupElement("errno")).get(state, 0L);
        } catch (Throwable t) {
            throw new IllegalStateException("unshare downcall failed", t);
        }
    }

    /** Runs {@code task} on the namespace's thread and returns its result. */
    public <T> T run(Callable<T> task) throws Exception {
        try {
            return thread.submit(task).get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Exception x) {
                throw x;
            }
            throw e;
        }
    }

    /** Runs a host tool (ip, say) inside the namespace: a child process inherits its thread's namespace. */
    public String tool(String tool, String... args) throws Exception {
        return run(() -> HostTools.run(tool, args));
    }

    @Override
    public void close() {
        thread.shutdownNow();
    }
}
