package vessel.devices.virtio;

import java.util.ArrayList;
import java.util.List;

/**
 * A device's I/O threads: jobs go into a ring and the first idle thread runs each, so several jobs run at
 * once and none waits behind another's I/O. Submitting allocates nothing (the ring grows only if a device
 * ever has more jobs queued than it said it would). Threads start on the first submission, on platform
 * threads (pread and FFM downcalls pin a virtual thread's carrier), each running {@code onStart} first
 * (its seccomp table), and end at {@link #close}.
 */
final class IoWorkers implements AutoCloseable {
    private final String name;
    private final int threads;
    private final Runnable onStart;
    private final List<Thread> started = new ArrayList<>();
    private Runnable[] ring;
    private int head;
    private int count;
    private boolean closed;

    IoWorkers(String name, int threads, int expectedJobs, Runnable onStart) {
        if (threads < 1) {
            throw new IllegalArgumentException("an I/O pool needs a thread, not " + threads);
        }
        this.name = name;
        this.threads = threads;
        this.onStart = onStart;
        this.ring = new Runnable[Math.max(1, Integer.highestOneBit(Math.max(1, expectedJobs - 1)) << 1)];
    }

    int threads() {
        return threads;
    }

    /** Queues {@code job} for the next idle thread; false if the pool is closed (the job will not run). */
    synchronized boolean submit(Runnable job) {
        if (closed) {
            return false;
        }
        if (started.isEmpty()) {
            for (int i = 0; i < threads; i++) {
                started.add(Thread.ofPlatform().name(name + "-" + i).daemon(true).start(this::run));
            }
        }
        if (count == ring.length) {
            Runnable[] bigger = new Runnable[ring.length * 2];
            for (int i = 0; i < count; i++) {
                bigger[i] = ring[(head + i) & (ring.length - 1)];
            }
            ring = bigger;
            head = 0;
        }
        ring[(head + count) & (ring.length - 1)] = job;
        count++;
        notify();
        return true;
    }

    private synchronized Runnable take() {
        while (count == 0 && !closed) {
            try {
                wait();
            } catch (InterruptedException e) {
                return null;
            }
        }
        if (count == 0) {
            return null;
        }
        Runnable job = ring[head];
        ring[head] = null;
        head = (head + 1) & (ring.length - 1);
        count--;
        return job;
    }

    private void run() {
        onStart.run();
        Runnable job;
        while ((job = take()) != null) {
            job.run();
        }
    }

    /** Stops the threads once the queued jobs have run, and waits for them. */
    @Override
    public void close() {
        List<Thread> toJoin;
        synchronized (this) {
            closed = true;
            notifyAll();
            toJoin = List.copyOf(started);
        }
        for (Thread t : toJoin) {
            if (t == Thread.currentThread()) {
                continue;
            }
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    @Override
    public synchronized String toString() {
        return name + ": " + threads + " threads, " + count + " jobs queued";
    }
}
