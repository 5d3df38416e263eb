package vessel.vmm;

import java.io.IOException;
import java.io.OutputStream;

import vessel.devices.TokenBucket;

/**
 * Firecracker's serial rate limiter: guest output beyond the bucket's byte rate is dropped (and counted),
 * never waited for, so a chatty guest cannot stall its vCPU on the console.
 */
final class SerialRateLimit extends OutputStream {
    private final OutputStream out;
    private final TokenBucket bucket;
    private long dropped;

    SerialRateLimit(OutputStream out, TokenBucket.Config limit) {
        this.out = out;
        this.bucket = new TokenBucket(limit, System.nanoTime());
    }

    @Override
    public synchronized void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public synchronized void write(byte[] b, int off, int len) throws IOException {
        long now = System.nanoTime();
        int allowed = (int) Math.min(len, Math.max(0, bucket.available(now)));
        if (allowed > 0) {
            bucket.take(allowed, now);
            out.write(b, off, allowed);
        }
        dropped += len - allowed;
    }

    @Override
    public void flush() throws IOException {
        out.flush();
    }

    /** Bytes dropped so far (Firecracker's uart rate_limiter_dropped_bytes). */
    synchronized long dropped() {
        return dropped;
    }
}
