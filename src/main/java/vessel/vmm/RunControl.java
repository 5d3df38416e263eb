package vessel.vmm;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Coordinates vCPU threads with the threads that pause, resume and stop them. vCPUs look at one
 * volatile flag after every exit and take the lock only when something was asked of them, so the exit
 * path stays lock-free. The requester kicks the vCPUs out of KVM_RUN itself (see {@code VcpuKick}).
 */
final class RunControl {
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final int vcpus;
    private volatile boolean attention;
    private boolean stopping;
    private boolean paused;
    private int parked;
    private int finished;

    RunControl(int vcpus) {
        this.vcpus = vcpus;
    }

    /**
     * Called by a vCPU thread between KVM_RUN calls. Blocks while the VM is paused; returns true when
     * the vCPU must stop.
     */
    boolean checkpoint() {
        if (!attention) {
            return false;
        }
        lock.lock();
        try {
            while (paused && !stopping) {
                parked++;
                changed.signalAll();
                changed.awaitUninterruptibly();
                parked--;
            }
            return stopping;
        } finally {
            lock.unlock();
        }
    }

    /** Asks every vCPU to stop; returns true for the first caller. */
    boolean requestStop() {
        lock.lock();
        try {
            boolean first = !stopping;
            stopping = true;
            attention = true;
            changed.signalAll();
            return first;
        } finally {
            lock.unlock();
        }
    }

    boolean stopping() {
        lock.lock();
        try {
            return stopping;
        } finally {
            lock.unlock();
        }
    }

    void requestPause() {
        lock.lock();
        try {
            paused = true;
            attention = true;
        } finally {
            lock.unlock();
        }
    }

    /** Waits until every vCPU has parked or ended; false if {@code timeoutMillis} passed first. */
    boolean awaitParked(long timeoutMillis) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        lock.lock();
        try {
            while (paused && !stopping && parked + finished < vcpus) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                changed.awaitNanos(left);
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    void resume() {
        lock.lock();
        try {
            paused = false;
            attention = stopping;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    boolean paused() {
        lock.lock();
        try {
            return paused;
        } finally {
            lock.unlock();
        }
    }

    /** A vCPU thread has ended; returns true for the last one. */
    boolean vcpuFinished() {
        lock.lock();
        try {
            finished++;
            changed.signalAll();
            return finished == vcpus;
        } finally {
            lock.unlock();
        }
    }
}
