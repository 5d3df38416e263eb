package vessel.vmm;

import java.util.Arrays;
import java.util.List;

import vessel.kvm.GuestDebug;
import vessel.kvm.KvmException;
import vessel.kvm.Regs;
import vessel.kvm.Sregs;
import vessel.kvm.VcpuFd;
import vessel.memory.GuestMemory;
import vessel.sys.Errno;
import vessel.vmm.x86.VcpuCpuAccess;

/**
 * The VM as a host debugger (the GDB stub) sees it: stop and resume, single-step one vCPU, hardware
 * breakpoints through KVM_SET_GUEST_DEBUG, registers and guest-virtual memory of a stopped vCPU.
 *
 * <p>Until {@link #attach()} nothing here touches KVM: the guest's own debug registers and TF are its
 * own. While attached, a KVM_EXIT_DEBUG from any vCPU stops the whole VM (all-stop, as GDB expects) and
 * is reported once by {@link #awaitStop}; the other vCPUs park at their next exit. Breakpoints are
 * hardware ones (DR0-DR3), so guest memory is never patched; while any is set the guest's own hardware
 * breakpoints are not in effect (KVM keeps them aside), as under QEMU.
 */
public final class GuestDebugger {
    /** Why the VM stopped for the debugger. */
    public enum StopReason { ATTACHED, BREAKPOINT, STEP, INTERRUPTED }

    /** A stop: which vCPU, why, and DR6 as KVM reported it (0 when not from a debug exit). */
    public record Stop(int vcpu, StopReason reason, long dr6) {}

    /** Hardware breakpoint slots: DR0-DR3. */
    public static final int BREAKPOINT_SLOTS = 4;

    private final VirtualMachine vm;
    private final List<VcpuFd> vcpus;
    private final GuestMemory memory;
    private final Object lock = new Object();
    private boolean attached;
    private Stop stop;
    private volatile int steppingVcpu = -1;
    private volatile boolean active;
    private final long[] breakpoints = new long[BREAKPOINT_SLOTS];
    private final boolean[] slotUsed = new boolean[BREAKPOINT_SLOTS];
    private boolean blockIrqWorks = true;

    GuestDebugger(VirtualMachine vm, List<VcpuFd> vcpus, GuestMemory memory) {
        this.vm = vm;
        this.vcpus = List.copyOf(vcpus);
        this.memory = memory;
    }

    public int vcpuCount() {
        return vcpus.size();
    }

    /** Stops the VM for the debugger (it may be running or not yet started paused). */
    public void attach() throws InterruptedException {
        synchronized (lock) {
            attached = true;
            active = true;
        }
        vm.pause();
        synchronized (lock) {
            if (stop == null) {
                stop = new Stop(0, StopReason.ATTACHED, 0);
            }
        }
    }

    /** Drops every breakpoint and the single-step, and lets the VM run on without the debugger. */
    public void detach() throws KvmException {
        synchronized (lock) {
            Arrays.fill(slotUsed, false);
            attached = false;
            steppingVcpu = -1;
            stop = null;
        }
        for (VcpuFd fd : vcpus) {
            fd.setGuestDebug(GuestDebug.OFF);
        }
        active = false;
        vm.resume();
    }

    /** Stops a running VM (GDB's Ctrl-C); {@link #awaitStop} then reports {@link StopReason#INTERRUPTED}. */
    public void interrupt() throws InterruptedException {
        vm.pause();
        synchronized (lock) {
            if (stop == null) {
                stop = new Stop(0, StopReason.INTERRUPTED, 0);
            }
            lock.notifyAll();
        }
    }

    /**
     * Waits up to {@code millis} for the VM to stop for the debugger and returns the stop once every vCPU
     * is parked; null if it did not stop in that time (or ended: see {@link #ended()}).
     */
    public Stop awaitStop(long millis) throws InterruptedException {
        Stop s;
        synchronized (lock) {
            long deadline = System.nanoTime() + millis * 1_000_000L;
            while (stop == null && vm.state() != VirtualMachine.State.ENDED) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return null;
                }
                lock.wait(Math.max(1, left / 1_000_000L));
            }
            s = stop;
        }
        if (s != null) {
            vm.pause(); // the stopping vCPU asked for the pause; this waits for the others to park
        }
        return s;
    }

    /** How the VM ended, or null while it has not. */
    public VmExit ended() throws InterruptedException {
        return vm.state() == VirtualMachine.State.ENDED ? vm.awaitExit(0) : null;
    }

    /** Runs the VM again; with {@code step}, the stopped vCPU executes one instruction and stops. */
    public void resume(boolean step) throws KvmException {
        int stepping;
        synchronized (lock) {
            requireStopped();
            stepping = step ? stop.vcpu() : -1;
            stop = null;
        }
        for (VcpuFd fd : vcpus) {
            setGuestDebug(fd, fd.id() == stepping);
        }
        steppingVcpu = stepping;
        vm.resume();
    }

    /** Ends the VM (GDB's kill). */
    public void kill() {
        vm.stop();
    }

    private void setGuestDebug(VcpuFd fd, boolean step) throws KvmException {
        long[] dr = new long[8];
        int control = 0;
        for (int i = 0; i < BREAKPOINT_SLOTS; i++) {
            if (slotUsed[i]) {
                dr[i] = breakpoints[i];
                dr[7] |= 2L << (2 * i); // Gi: enabled; R/Wi and LENi 0: instruction execution
                control = GuestDebug.ENABLE | GuestDebug.USE_HW_BP;
            }
        }
        if (step) {
            control |= GuestDebug.ENABLE | GuestDebug.SINGLESTEP | (blockIrqWorks ? GuestDebug.BLOCKIRQ : 0);
        }
        try {
            fd.setGuestDebug(new GuestDebug(control, dr));
        } catch (KvmException e) {
            if (!step || !blockIrqWorks || e.errno() != Errno.EINVAL) {
                throw e;
            }
            blockIrqWorks = false; // an older KVM: steps may then enter interrupt handlers
            fd.setGuestDebug(new GuestDebug(control & ~GuestDebug.BLOCKIRQ, dr));
        }
    }

    /** Sets a hardware breakpoint at a guest-virtual address; false when all four slots are in use. */
    public boolean insertBreakpoint(long address) {
        synchronized (lock) {
            int free = -1;
            for (int i = 0; i < BREAKPOINT_SLOTS; i++) {
                if (slotUsed[i] && breakpoints[i] == address) {
                    return true;
                }
                if (!slotUsed[i] && free < 0) {
                    free = i;
                }
            }
            if (free < 0) {
                return false;
            }
            slotUsed[free] = true;
            breakpoints[free] = address;
            return true;
        }
    }

    /** Removes the breakpoint at {@code address}; false if there was none. */
    public boolean removeBreakpoint(long address) {
        synchronized (lock) {
            for (int i = 0; i < BREAKPOINT_SLOTS; i++) {
                if (slotUsed[i] && breakpoints[i] == address) {
                    slotUsed[i] = false;
                    return true;
                }
            }
            return false;
        }
    }

    public Regs registers(int vcpu) throws KvmException {
        return stoppedVcpu(vcpu).getRegs();
    }

    public Sregs segments(int vcpu) throws KvmException {
        return stoppedVcpu(vcpu).getSregs();
    }

    public void setRegisters(int vcpu, Regs regs) throws KvmException {
        stoppedVcpu(vcpu).setRegs(regs);
    }

    /**
     * Reads up to {@code len} bytes at a guest-virtual address as {@code vcpu} sees it, page by page;
     * stops at the first page that is not mapped (so the result may be shorter, or empty).
     */
    public byte[] readMemory(int vcpu, long address, int len) throws KvmException {
        VcpuCpuAccess cpu = new VcpuCpuAccess(stoppedVcpu(vcpu), memory);
        byte[] out = new byte[len];
        int done = 0;
        while (done < len) {
            int chunk = (int) Math.min(len - done, 4096 - ((address + done) & 4095));
            try {
                System.arraycopy(cpu.readLinear(address + done, chunk), 0, out, done, chunk);
            } catch (Exception e) {
                break;
            }
            done += chunk;
        }
        return Arrays.copyOf(out, done);
    }

    /** Writes at a guest-virtual address; throws if any byte is not mapped to guest RAM. */
    public void writeMemory(int vcpu, long address, byte[] data) throws Exception {
        new VcpuCpuAccess(stoppedVcpu(vcpu), memory).writeLinear(address, data);
    }

    private VcpuFd stoppedVcpu(int vcpu) {
        synchronized (lock) {
            requireStopped();
        }
        if (vcpu < 0 || vcpu >= vcpus.size()) {
            throw new IllegalArgumentException("no vCPU " + vcpu);
        }
        return vcpus.get(vcpu);
    }

    private void requireStopped() {
        if (stop == null) {
            throw new IllegalStateException("the VM is not stopped for the debugger");
        }
    }

    // Called by vCPU threads.

    /**
     * A KVM_EXIT_DEBUG on {@code vcpu}: records the stop (the first one wins) and asks every vCPU to
     * park. False when no debugger is attached: KVM then had no reason to exit, and the caller reports it.
     */
    boolean debugExit(int vcpu, long dr6) {
        StopReason reason = (dr6 & vessel.kvm.DebugRegs.DR6_BS) != 0 || steppingVcpu == vcpu
                && (dr6 & vessel.kvm.DebugRegs.DR6_BREAKPOINTS) == 0 ? StopReason.STEP : StopReason.BREAKPOINT;
        return stopFrom(vcpu, reason, dr6);
    }

    /**
     * An emulation assist completed an instruction on {@code vcpu}: when the debugger is single-stepping
     * that vCPU the step is done (KVM never ran the instruction, so it will not report the step itself).
     */
    void afterAssist(int vcpu) {
        if (active && steppingVcpu == vcpu) {
            stopFrom(vcpu, StopReason.STEP, vessel.kvm.DebugRegs.DR6_BS);
        }
    }

    private boolean stopFrom(int vcpu, StopReason reason, long dr6) {
        synchronized (lock) {
            if (!attached) {
                return false;
            }
            if (stop == null) {
                stop = new Stop(vcpu, reason, dr6);
                steppingVcpu = -1;
            }
            lock.notifyAll();
        }
        vm.requestPauseFromVcpu();
        return true;
    }

    /** The VM ended: wake a waiting debugger. */
    void vmEnded() {
        synchronized (lock) {
            lock.notifyAll();
        }
    }
}
