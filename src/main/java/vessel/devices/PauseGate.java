package vessel.devices;

/**
 * Where a VM's device work waits while the VM is paused. Every thread that works on guest memory or
 * raises interrupts outside a vCPU (the event loop, a device's own receive thread) does each pass of
 * that work between {@link #enter} and {@link #leave}; {@link #pause} returns once no pass is in
 * progress, and none starts until {@link #resume}. Work that arrives meanwhile waits where it arrived
 * (an eventfd, a socket, a TAP) and the next pass after resuming serves it.
 *
 * <p>The gate is its own lock and nothing else: a pass holds no lock of the gate's while it works, so
 * pausing never stands in the way of a vCPU or a device lock, it only waits for passes to end.
 */
public final class PauseGate {
    private boolean paused;
    private int passes;

    /**
     * Starts a pass: waits while the VM is paused. Returns false (no pass started, {@link #leave} not
     * due) if the thread was interrupted while waiting.
     */
    public synchronized boolean enter() {
        while (paused) {
            try {
                wait();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        passes++;
        return true;
    }

    /**
     * Starts a pass without waiting, for a pass in progress that hands part of its work to another thread
     * (a block request's I/O on a worker): that thread calls {@link #leave} when the work is done, so
     * {@link #pause} also waits for it. The caller's own pass keeps a pause from completing meanwhile.
     */
    public synchronized void handOff() {
        passes++;
    }

    /** Ends the pass {@link #enter} (or {@link #handOff}) started. */
    public synchronized void leave() {
        passes--;
        notifyAll();
    }

    /** Stops new passes and waits until the ones in progress have ended. */
    public synchronized void pause() throws InterruptedException {
        paused = true;
        while (passes > 0) {
            wait();
        }
    }

    /** Lets passes start again. */
    public synchronized void resume() {
        paused = false;
        notifyAll();
    }

    public synchronized boolean paused() {
        return paused;
    }
}
