package vessel.devices.pci;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import vessel.devices.virtio.ConfigSpace;
import vessel.devices.virtio.VirtQueue;
import vessel.devices.virtio.VirtioDevice;
import vessel.devices.virtio.VirtioInterrupt;
import vessel.memory.GuestMemory;
import vessel.testkit.TestMemory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The virtio-pci registers as Linux's virtio_pci_modern driver drives them. */
class VirtioPciFunctionTest {
    private final Arena arena = Arena.ofConfined();
    private final GuestMemory memory = TestMemory.of(arena, 1L << 20);
    private final List<String> events = new ArrayList<>();
    private final FakeDevice device = new FakeDevice();
    private final List<Boolean> intx = new ArrayList<>();
    private final VirtioPciFunction f = new VirtioPciFunction("fake", device, memory, new MsiXTable.MsiSink() {
        @Override
        public void route(int vector, long address, int data) {
        }

        @Override
        public void signal(int vector) {
            events.add("msi " + vector);
        }
    }, intx::add);

    @AfterEach
    void close() {
        arena.close();
    }

    final class FakeDevice implements VirtioDevice {
        VirtioInterrupt interrupt;
        long acked;
        int resets;
        List<VirtQueue> queues;
        Error failure;

        @Override
        public int deviceType() {
            return 4;
        }

        @Override
        public long deviceFeatures() {
            return 1L << 5;
        }

        @Override
        public int queueCount() {
            return 2;
        }

        @Override
        public int queueMaxSize() {
            return 64;
        }

        @Override
        public int configSize() {
            return 8;
        }

        @Override
        public byte[] configSpace() {
            return ConfigSpace.allocate(8).putLong(0x1122334455667788L).array();
        }

        @Override
        public void writeConfig(int offset, int size, long value) {
            events.add("config write " + offset);
        }

        @Override
        public void activate(GuestMemory memory, List<VirtQueue> queues, long ackedFeatures, VirtioInterrupt interrupt) {
            this.interrupt = interrupt;
            this.acked = ackedFeatures;
            this.queues = queues;
            events.add("activate");
        }

        @Override
        public boolean queueNotified(int index) {
            events.add("notify " + index);
            if (failure != null) {
                throw failure;
            }
            return false;
        }

        @Override
        public void reset() {
            resets++;
        }
    }

    private long features(int select) {
        f.write(0x00, 4, select);
        return f.read(0x04, 4);
    }

    private void negotiate(long features) {
        f.write(0x14, 1, 1);
        f.write(0x14, 1, 3);
        f.write(0x08, 4, 0);
        f.write(0x0c, 4, features & 0xffff_ffffL);
        f.write(0x08, 4, 1);
        f.write(0x0c, 4, features >>> 32);
        f.write(0x14, 1, 0xb);
    }

    @Test
    void identifiesAsAModernVirtioDevice() {
        PciConfigSpace c = f.config();
        assertEquals(0x1af4, c.read(PciConfigSpace.VENDOR_ID, 2));
        assertEquals(0x1044, c.read(PciConfigSpace.DEVICE_ID, 2));
        assertEquals(1, c.read(PciConfigSpace.REVISION, 1));
        // Walk the capability list: four virtio structures and MSI-X.
        List<Integer> virtioTypes = new ArrayList<>();
        boolean msix = false;
        for (int cap = c.read(PciConfigSpace.CAPABILITIES_POINTER, 1); cap != 0; cap = c.read(cap + 1, 1)) {
            if (c.read(cap, 1) == 0x09) {
                virtioTypes.add(c.read(cap + 3, 1));
                assertEquals(0, c.read(cap + 4, 1), "every structure is in BAR 0");
            } else if (c.read(cap, 1) == MsiXTable.CAPABILITY_ID) {
                msix = true;
            }
        }
        assertEquals(List.of(1, 2, 3, 4), virtioTypes);
        assertTrue(msix);
    }

    @Test
    void offersDeviceFeaturesWithVersion1AndRingFeatures() {
        assertEquals((1L << 5) | (1L << 28) | (1L << 29), features(0));
        assertEquals(1L, features(1));
        assertEquals(0L, features(2));
        assertEquals(2L, f.read(0x12, 2), "num_queues");
    }

    @Test
    void featuresOkIsRefusedForUnofferedFeaturesOrALegacyDriver() {
        negotiate(1L << 40 | VirtioPciFunction.F_VERSION_1);
        assertEquals(0, f.read(0x14, 1) & 8, "unoffered feature");
        f.write(0x14, 1, 0);
        negotiate(1L << 5);
        assertEquals(0, f.read(0x14, 1) & 8, "no VERSION_1");
        f.write(0x14, 1, 0);
        negotiate(1L << 5 | VirtioPciFunction.F_VERSION_1);
        assertEquals(8, f.read(0x14, 1) & 8);
    }

    @Test
    void queueRegistersVectorsAndReset() {
        negotiate(VirtioPciFunction.F_VERSION_1);
        f.write(0x16, 2, 1);
        assertEquals(64L, f.read(0x18, 2), "queue_size starts at the maximum");
        f.write(0x18, 2, 16);
        f.write(0x20, 4, 0x1000);
        f.write(0x24, 4, 0x1);
        assertEquals(0x1000L, f.read(0x20, 4));
        assertEquals(1L, f.read(0x24, 4));
        f.write(0x1a, 2, 2);
        assertEquals(2L, f.read(0x1a, 2));
        f.write(0x1a, 2, 3);
        assertEquals(0xffffL, f.read(0x1a, 2), "a vector the table lacks reads back as NO_VECTOR");
        assertEquals(1L, f.read(0x1e, 2), "queue_notify_off is the queue index");
        f.write(0x16, 2, 9);
        assertEquals(0L, f.read(0x18, 2), "a queue that does not exist has size 0");
        f.write(0x14, 1, 0);
        assertEquals(0L, f.read(0x14, 1));
        f.write(0x16, 2, 1);
        assertEquals(64L, f.read(0x18, 2));
        assertEquals(0L, f.read(0x20, 4));
    }

    @Test
    void deviceConfigurationIsReadThroughItsWindow() {
        assertEquals(0x88L, f.read(0x2000, 1));
        assertEquals(0x5566_7788L, f.read(0x2000, 4));
        assertEquals(0L, f.read(0x2000 + 8, 4), "past the device's configuration");
        f.write(0x2004, 4, 1);
        assertEquals(List.of("config write 4"), events);
    }

    @Test
    void notificationsBeforeDriverOkAreIgnored() {
        f.write(VirtioPciFunction.notifyOffset(0), 2, 0);
        f.queueNotified(0);
        assertEquals(List.of(), events);
    }

    /** Queue 0 at 0x1000/0x2000/0x3000, DRIVER_OK: the device is activated with it. */
    private void activateWithQueue0() {
        negotiate(VirtioPciFunction.F_VERSION_1 | VirtioPciFunction.F_EVENT_IDX);
        f.write(0x16, 2, 0);
        f.write(0x18, 2, 16);
        f.write(0x20, 8, 0x1000);
        f.write(0x28, 8, 0x2000);
        f.write(0x30, 8, 0x3000);
        f.write(0x1c, 2, 1);
        f.write(0x14, 1, 0xf);
    }

    @Test
    void driverOkActivatesTheEnabledQueuesWithTheAcceptedFeatures() {
        activateWithQueue0();
        assertEquals(List.of("activate"), events);
        assertEquals(VirtioPciFunction.F_VERSION_1 | VirtioPciFunction.F_EVENT_IDX, device.acked);
        assertTrue(device.queues.get(0) != null && device.queues.get(1) == null, "queue 1 was never enabled");
        f.queueNotified(0);
        assertEquals("notify 0", events.getLast());
        // Queue registers are frozen once the driver is running.
        f.write(0x18, 2, 8);
        assertEquals(16L, f.read(0x18, 2));
        f.write(0x14, 1, 0);
        assertEquals(1, device.resets);
    }

    @Test
    void withoutMsiXInterruptsUseTheIsrAndTheIntxLine() {
        activateWithQueue0();
        device.interrupt.queue(0);
        assertEquals(List.of(true), intx);
        assertEquals(1L, f.read(0x1000, 1), "ISR: queue interrupt");
        assertEquals(List.of(true, false), intx, "reading the ISR deasserts the line");
        assertEquals(0L, f.read(0x1000, 1), "and clears it");
        device.interrupt.config();
        assertEquals(2L, f.read(0x1000, 1), "ISR: configuration change");
    }

    @Test
    void withMsiXEachQueueInterruptsOnItsVector() {
        int control = f.config().read(VirtioPciFunctionTest.msixCap(f) + 2, 2);
        f.config().write(msixCap(f) + 2, 2, control | 0x8000);
        f.configWritten(msixCap(f) + 2, 2);
        f.write(0x16, 2, 0);
        f.write(0x1a, 2, 1);
        f.write(0x4000 + 16 + 12, 4, 0); // unmask vector 1
        activateWithQueue0();
        events.clear();
        device.interrupt.queue(0);
        assertEquals(List.of("msi 1"), events);
        assertEquals(List.of(), intx);
    }

    @Test
    void aDeviceThatNeedsResetSaysSoInItsStatus() {
        activateWithQueue0();
        device.interrupt.needsReset("broken ring");
        assertEquals(0x40, f.read(0x14, 1) & 0x40);
        f.queueNotified(0);
        assertEquals(List.of("activate"), events, "no more queue work until the driver resets");
        f.write(0x14, 1, 0);
        assertEquals(0L, f.read(0x14, 1));
    }

    @Test
    void aDeviceThatThrowsIsStoppedAndNeedsReset() {
        int control = f.config().read(msixCap(f) + 2, 2);
        f.config().write(msixCap(f) + 2, 2, control | 0x8000);
        f.configWritten(msixCap(f) + 2, 2);
        f.write(0x10, 2, 2); // configuration changes on vector 2
        f.write(0x4000 + 32 + 12, 4, 0); // unmask it
        activateWithQueue0();
        device.failure = new StackOverflowError("hostile recursion");
        assertEquals(false, f.queueNotified(0), "the Error stays in the transport");
        assertEquals(0x40, f.read(0x14, 1) & 0x40, "DEVICE_NEEDS_RESET");
        assertEquals(List.of("activate", "notify 0", "msi 2"), events, "the driver hears it on the config vector");
        assertEquals(1, device.resets, "the device stopped serving its queues");
        f.queueNotified(0);
        assertEquals("msi 2", events.getLast(), "no more queue work until the driver resets");
        device.failure = null;
        f.write(0x14, 1, 0);
        assertEquals(0L, f.read(0x14, 1));
    }

    @Test
    void aQueueOutsideGuestMemoryIsRefusedAtDriverOk() {
        negotiate(VirtioPciFunction.F_VERSION_1);
        f.write(0x16, 2, 0);
        f.write(0x20, 8, 0x7fff_0000L);
        f.write(0x28, 8, 0x2000);
        f.write(0x30, 8, 0x3000);
        f.write(0x1c, 2, 1);
        f.write(0x14, 1, 0xf);
        assertEquals(0x40, f.read(0x14, 1) & 0x40);
        assertEquals(List.of(), events, "the device was not activated");
    }

    static int msixCap(VirtioPciFunction function) {
        PciConfigSpace c = function.config();
        for (int cap = c.read(PciConfigSpace.CAPABILITIES_POINTER, 1); cap != 0; cap = c.read(cap + 1, 1)) {
            if (c.read(cap, 1) == MsiXTable.CAPABILITY_ID) {
                return cap;
            }
        }
        throw new AssertionError("no MSI-X capability");
    }
}
