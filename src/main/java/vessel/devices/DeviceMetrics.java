package vessel.devices;


/**
 * One virtio device's counters at one moment, as running totals since the VM was made: each device
 * gives its own through {@code VirtioDevice.metrics}, so the VMM lists them without knowing device
 * classes. Whoever reports them (the API's metrics lines) works out what changed between two samples.
 */
public sealed interface DeviceMetrics {
    /** The device's configured id (drive or interface id; "vsock" and "entropy" for the single ones). */
    String id();

    /** A drive: successful requests and bytes; failed requests split by cause; backend replacements. */
    record Block(String id, long readCount, long writeCount, long flushCount, long readBytes, long writeBytes,
                 long invalidRequests, long executeFails, long updateCount, long updateFails,
                 long rateLimiterThrottled) implements DeviceMetrics {
        /** A drive without rate limiting. */
        public Block(String id, long readCount, long writeCount, long flushCount, long readBytes, long writeBytes,
                     long invalidRequests, long executeFails, long updateCount, long updateFails) {
            this(id, readCount, writeCount, flushCount, readBytes, writeBytes, invalidRequests, executeFails,
                    updateCount, updateFails, 0);
        }
    }

    /** A network interface; bytes count the virtio-net header, as exchanged with the TAP. */
    record Net(String id, long rxBytes, long rxPackets, long rxFails, long tapReadFails, long txBytes,
               long txPackets, long txMalformedFrames, long tapWriteFails, long rxRateLimiterThrottled,
               long txRateLimiterThrottled) implements DeviceMetrics {
        /** An interface without rate limiting. */
        public Net(String id, long rxBytes, long rxPackets, long rxFails, long tapReadFails, long txBytes,
                   long txPackets, long txMalformedFrames, long tapWriteFails) {
            this(id, rxBytes, rxPackets, rxFails, tapReadFails, txBytes, txPackets, txMalformedFrames, tapWriteFails,
                    0, 0);
        }
    }

    /** The vsock device: stream bytes to the guest (rx) and from it (tx). */
    record Vsock(String id, long rxBytes, long txBytes) implements DeviceMetrics {
    }

    /** The entropy device: bytes handed to the guest, and requests the host source failed. */
    record Entropy(String id, long bytes, long hostFails, long rateLimiterThrottled) implements DeviceMetrics {
        /** An entropy device without rate limiting. */
        public Entropy(String id, long bytes, long hostFails) {
            this(id, bytes, hostFails, 0);
        }
    }

    /** The balloon: requests on its queues, statistics updates, and bytes given back to the host. */
    record Balloon(String id, long inflateCount, long deflateCount, long statsUpdates, long statsUpdateFails,
                   long freePageReportCount, long freePageReportFreed, long freePageHintCount, long freePageHintFreed,
                   long discardFails) implements DeviceMetrics {
    }

    /** Hot-pluggable memory (virtio-mem): the driver's requests by kind, and bytes plugged and unplugged. */
    record MemoryHotplug(String id, long plugCount, long plugBytes, long plugFails, long unplugCount, long unplugBytes,
                         long unplugFails, long unplugDiscardFails, long unplugAllCount, long unplugAllFails,
                         long stateCount, long stateFails) implements DeviceMetrics {
    }

    /** A pmem device: flushes made durable, flushes that failed, malformed requests. */
    record Pmem(String id, long flushes, long flushFails, long invalidRequests, long rateLimiterThrottled)
            implements DeviceMetrics {
    }
}
