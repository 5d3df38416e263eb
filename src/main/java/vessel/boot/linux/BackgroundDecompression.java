package vessel.boot.linux;

import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;

import vessel.boot.ImageException;

/**
 * A bzImage's kernel being decompressed on a thread of its own while the rest of the VM is assembled
 * (host probes, guest memory, ACPI, devices), so the decompression costs the boot only what is left of it
 * when the loader needs the kernel. On a host where Vessel's start-up itself is slow (an emulated JVM) the
 * two overlap almost entirely.
 */
public final class BackgroundDecompression {
    private static final System.Logger LOG = System.getLogger("vessel.boot");

    private final String name;
    private final FutureTask<DecompressedKernel> task;

    private BackgroundDecompression(byte[] bzImage, String name) {
        this.name = name;
        this.task = new FutureTask<>(() -> {
            long t0 = System.nanoTime();
            DecompressedKernel kernel = KernelDecompressor.decompressKernel(bzImage, name);
            // The figure that decides between host and guest decompression on a given host.
            LOG.log(System.Logger.Level.INFO, () -> String.format("kernel decompressed on the host in %d ms (%s, %d bytes)",
                    (System.nanoTime() - t0) / 1_000_000, kernel.format().displayName(), kernel.vmlinux().length));
            return kernel;
        });
    }

    /** Starts decompressing {@code bzImage} (named {@code name} in messages) now. */
    public static BackgroundDecompression start(byte[] bzImage, String name) {
        BackgroundDecompression d = new BackgroundDecompression(bzImage, name);
        // A daemon: a VM whose assembly fails meanwhile must not keep the process alive for it.
        Thread.ofPlatform().name("kernel-decompression").daemon().start(d.task);
        return d;
    }

    /** The kernel, waiting for the rest of the work; a bad image's error is thrown here, as the loader's. */
    public DecompressedKernel await() throws ImageException {
        long t0 = System.nanoTime();
        try {
            DecompressedKernel kernel = task.get();
            LOG.log(System.Logger.Level.DEBUG, () -> String.format("waited %d ms for the kernel's decompression",
                    (System.nanoTime() - t0) / 1_000_000));
            return kernel;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ImageException(name + ": interrupted while decompressing the kernel");
        } catch (CancellationException e) {
            throw new ImageException(name + ": the kernel's decompression was cancelled");
        } catch (ExecutionException e) {
            switch (e.getCause()) {
                case ImageException ie -> throw ie;
                case RuntimeException re -> throw re;
                case Error err -> throw err;
                default -> throw new IllegalStateException(e.getCause());
            }
        }
    }

    /** Stops the work if it is no longer wanted (the VM's assembly failed). */
    public void cancel() {
        task.cancel(true);
    }
}
