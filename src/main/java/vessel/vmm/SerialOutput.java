package vessel.vmm;

import java.nio.file.Path;

import vessel.devices.TokenBucket;

/**
 * Firecracker's serial settings: a file or FIFO that also receives the guest's serial output (null: the
 * console only), and a byte rate beyond which the guest's output is dropped (null: no limit).
 */
public record SerialOutput(Path file, TokenBucket.Config rateLimit) {
}
