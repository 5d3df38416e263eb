package vessel.vmm;

import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import vessel.devices.virtio.RecordingInterrupt;
import vessel.devices.virtio.TestDriver;
import vessel.devices.virtio.TestDriver.Buf;
import vessel.devices.virtio.VirtQueue;
import vessel.devices.virtio.VirtioBlock;
import vessel.devices.virtio.VirtioRng;
import vessel.memory.GuestMemory;
import vessel.sys.EventFd;
import vessel.sys.Libc;
import vessel.testkit.TestMemory;

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

    @TempDir
    Path dir;

    /**
     * Block and entropy devices work only when the loop notifies them: paused, a request the driver
     * posts and notifies is neither served (no guest memory written) nor interrupted for until resume.
     */
    @Test
    void pausedBlockAndEntropyDevicesLeaveGuestMemoryAlone() throws Exception {
        Path image = dir.resolve("disk.img");
        byte[] sector = new byte[512];
        Arrays.fill(sector, (byte) 0x5a);
        Files.write(image, sector);
        try (Arena arena = Arena.ofShared(); EventLoop loop = new EventLoop();
             EventFd blkFd = new EventFd(Libc.EFD_NONBLOCK); EventFd rngFd = new EventFd(Libc.EFD_NONBLOCK);
             VirtioBlock blk = new VirtioBlock(image, true, "disk")) {
            GuestMemory memory = TestMemory.of(arena, 1 << 20);
            TestDriver blkDriver = new TestDriver(memory, 0x1000, 16, 0x10000, 0x40000);
            TestDriver rngDriver = new TestDriver(memory, 0x4000, 16, 0x40000, 0x80000);
            RecordingInterrupt blkIrq = new RecordingInterrupt();
            RecordingInterrupt rngIrq = new RecordingInterrupt();
            VirtQueue bq = blkDriver.configure(new VirtQueue(16));
            VirtQueue rq = rngDriver.configure(new VirtQueue(16));
            bq.activate(memory, false, false);
            rq.activate(memory, false, false);
            VirtioRng rng = new VirtioRng(dst -> Arrays.fill(dst, (byte) 7));
            blk.activate(memory, List.of(bq), 0, blkIrq);
            rng.activate(memory, List.of(rq), 0, rngIrq);
            loop.add(blkFd, () -> blk.queueNotified(0));
            loop.add(rngFd, () -> rng.queueNotified(0));
            loop.start("test-loop");

            loop.pause();
            long header = blkDriver.buffer(new byte[16]); // type IN, sector 0
            long data = blkDriver.alloc(512);
            long status = blkDriver.alloc(1);
            memory.writeByte(status, (byte) 0xff);
            blkDriver.post(Buf.in(header, 16), Buf.out(data, 512), Buf.out(status, 1));
            long entropy = rngDriver.alloc(32);
            rngDriver.post(Buf.out(entropy, 32));
            blkFd.signal();
            rngFd.signal();
            Thread.sleep(300);
            assertEquals(0, blkDriver.usedIdx(), "a block request was served while paused");
            assertEquals(0, rngDriver.usedIdx(), "an entropy request was served while paused");
            assertEquals(0, memory.readByte(data), "guest memory written while paused");
            assertEquals(0, memory.readByte(entropy), "guest memory written while paused");
            assertEquals(List.of(), blkIrq.queues);
            assertEquals(List.of(), rngIrq.queues);

            loop.resume();
            long deadline = System.nanoTime() + 10_000_000_000L;
            while ((blkDriver.usedIdx() == 0 || rngDriver.usedIdx() == 0) && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertEquals(1, blkDriver.usedIdx(), "the block request waits for resume, then is served");
            assertEquals(1, rngDriver.usedIdx(), "the entropy request waits for resume, then is served");
            assertEquals(0x5a, memory.readByte(data));
            assertEquals(0, memory.readByte(status), "VIRTIO_BLK_S_OK");
            assertEquals(7, memory.readByte(entropy));
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
            deadline = System.nanoTime() + 10_000_000_000L;
            while (failures.get() < 2 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
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

    /**
     * issue 15: a network device whose transmit queue is full of large frames is served a pass (its byte
     * budget) at a time, and another device's notification is served between two of its passes.
     */
    @Test
    void aBusyNetworkTransmitQueueLetsAnotherDeviceInBetweenItsPasses() throws Exception {
        java.util.List<String> order = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
        java.util.concurrent.atomic.AtomicInteger sent = new java.util.concurrent.atomic.AtomicInteger();
        vessel.devices.virtio.NetBackend counting = new vessel.devices.virtio.NetBackend() {
            @Override
            public int read(vessel.sys.IoVec iov, int count) {
                return 0;
            }

            @Override
            public void write(vessel.sys.IoVec iov, int count, int len) {
                sent.incrementAndGet();
            }

            @Override
            public void awaitReadable() throws java.io.IOException {
                try {
                    Thread.sleep(10);
                } catch (InterruptedException e) {
                    throw new java.io.IOException(e);
                }
            }

            @Override
            public void wakeup() {
            }

            @Override
            public boolean offloads() {
                return false;
            }

            @Override
            public void enableOffloads(boolean csum, boolean tso4, boolean tso6, boolean ecn) {
            }

            @Override
            public void close() {
            }
        };
        Semaphore done = new Semaphore(0);
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofShared();
             vessel.devices.virtio.VirtioNet net = new vessel.devices.virtio.VirtioNet(counting, new byte[6]);
             EventLoop loop = new EventLoop(); EventFd tx = new EventFd(Libc.EFD_NONBLOCK);
             EventFd other = new EventFd(Libc.EFD_NONBLOCK)) {
            vessel.memory.GuestMemory memory = vessel.testkit.TestMemory.of(arena, 1 << 20);
            var rxDriver = new vessel.devices.virtio.TestDriver(memory, 0x1000, 64, 0x10000, 0x20000);
            var txDriver = new vessel.devices.virtio.TestDriver(memory, 0x4000, 64, 0x20000, 1 << 20);
            var rq = rxDriver.configure(new vessel.devices.virtio.VirtQueue(64));
            var tq = txDriver.configure(new vessel.devices.virtio.VirtQueue(64));
            rq.activate(memory, false, false);
            tq.activate(memory, false, false);
            var irq = new vessel.devices.virtio.VirtioInterrupt() {
                @Override
                public void queue(int index) {
                }

                @Override
                public void config() {
                }

                @Override
                public void needsReset(String why) {
                    order.add("reset: " + why);
                }
            };
            synchronized (net) {
                net.activate(memory, java.util.List.of(rq, tq), 0, irq);
            }
            long frame = txDriver.alloc(60_000);
            for (int i = 0; i < 12; i++) {
                txDriver.post(vessel.devices.virtio.TestDriver.Buf.in(frame, 60_000));
            }
            loop.add(tx, () -> {
                boolean more;
                synchronized (net) {
                    more = net.queueNotified(vessel.devices.virtio.VirtioNet.TX);
                }
                order.add("tx " + sent.get());
                if (!more) {
                    done.release();
                }
                return more;
            });
            loop.add(other, () -> {
                order.add("other");
                return false;
            });
            tx.signal();
            other.signal();
            loop.start("test-loop");
            assertTrue(done.tryAcquire(10, TimeUnit.SECONDS), "the transmit queue was not served to the end: " + order);
            assertEquals(java.util.List.of("tx 5", "other", "tx 10", "tx 12"), order);
        }
    }
}
