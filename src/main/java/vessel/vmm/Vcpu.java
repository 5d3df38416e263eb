package vessel.vmm;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import vessel.devices.Bus;
import vessel.kvm.ExitReason;
import vessel.kvm.KvmRun;
import vessel.kvm.LapicState;
import vessel.kvm.VcpuFd;
import vessel.kvm.VcpuKick;
import vessel.sys.Errno;

/**
 * One vCPU on its own platform thread, blocking in KVM_RUN and dispatching each exit to the port-I/O
 * or MMIO bus in place in the {@code kvm_run} page. The loop allocates nothing per exit.
 */
final class Vcpu implements Runnable {
    private static final System.Logger LOG = System.getLogger("vessel.vmm");
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** What a vCPU needs from its VM. */
    interface Host {
        Bus pio();

        Bus mmio();

        RunControl control();

        EmulationAssist assist();

        GuestDebugger debugger();

        /** Ends the VM with {@code exit} (the first caller wins) and kicks every vCPU. */
        void exit(VmExit exit);

        void vcpuEnded(Vcpu vcpu);

        /** Puts this vCPU in its state after an S3 wake; called on its own thread, outside KVM_RUN. */
        void wake(Vcpu vcpu, VcpuFd fd, LapicState resetLapic);
    }

    private final VcpuFd fd;
    private final Host host;
    private final long[] exits = new long[ExitReason.COUNT + 1];
    private final java.util.concurrent.CountDownLatch armed = new java.util.concurrent.CountDownLatch(1);
    /** Guards {@link #pthread}: a signal must never be sent to a thread that has ended (its id may be reused). */
    private final Object kickLock = new Object();
    private long pthread;
    /** Set while parked in S3; the vCPU takes its waking state before it next enters the guest. */
    private volatile boolean wakePending;
    /** This local APIC as firmware left it, before the guest ran: what an S3 wake restores. */
    private LapicState resetLapic;

    /** The host CPU this vCPU's thread runs on (--cpu-affinity), or -1: wherever the scheduler puts it. */
    private int pinnedCpu = -1;

    Vcpu(VcpuFd fd, Host host) {
        this.fd = fd;
        this.host = host;
    }

    int index() {
        return fd.id();
    }

    /** Pins this vCPU's thread to host CPU {@code cpu} when it starts (before its seccomp table, which has no sched_setaffinity). */
    void pinTo(int cpu) {
        this.pinnedCpu = cpu;
    }

    @Override
    public void run() {
        try {
            if (pinnedCpu >= 0) {
                vessel.sys.CpuAffinity.pinCurrentThread(pinnedCpu);
            }
            vessel.sys.Seccomp.enterThread(vessel.sys.Seccomp.ThreadKind.VCPU);
            long self = VcpuKick.armCurrentThread(fd);
            synchronized (kickLock) {
                pthread = self;
            }
            armed.countDown();
            resetLapic = fd.getLapic();
            loop();
        } catch (Throwable t) {
            host.exit(VmExit.error("vCPU " + fd.id() + " failed: " + t));
            LOG.log(System.Logger.Level.ERROR, "vCPU " + fd.id() + " failed", t);
        } finally {
            synchronized (kickLock) {
                pthread = 0; // from here on no kick can be sent to this thread
            }
            // HotSpot restores a thread's original signal mask as it exits; a kick still pending then
            // would be delivered with its default action and end the process. Take it while it is blocked.
            VcpuKick.consumePending();
            armed.countDown();
            host.vcpuEnded(this);
        }
    }

    /**
     * Where a triple fault left the vCPU, for the log: the instruction whose exception could not be
     * delivered, the stack, the last page fault's address and the IDT. Empty if KVM will not say.
     */
    private String tripleFaultState() {
        try {
            vessel.kvm.Regs r = fd.getRegs();
            vessel.kvm.Sregs s = fd.getSregs();
            String state = String.format(" (rip 0x%x, rsp 0x%x, rflags 0x%x, cr2 0x%x, idt 0x%x/%d)", r.rip, r.rsp,
                    r.rflags, s.cr2, s.idt.base(), s.idt.limit());
            LOG.log(System.Logger.Level.INFO, "triple fault on vCPU " + fd.id() + state);
            return state;
        } catch (vessel.kvm.KvmException e) {
            return "";
        }
    }

    private void loop() throws Exception {
        KvmRun run = fd.kvmRun();
        MemorySegment page = run.segment();
        RunControl control = host.control();
        while (!control.checkpoint()) {
            if (wakePending) {
                wakePending = false;
                host.wake(this, fd, resetLapic);
                continue; // the wake may have ended the VM; the checkpoint says
            }
            int r = fd.run();
            if (r < 0) {
                if (r == -Errno.EINTR || r == -Errno.EAGAIN) {
                    VcpuKick.consumePending();
                    exits[ExitReason.COUNT]++;
                    continue;
                }
                host.exit(VmExit.error("KVM_RUN on vCPU " + fd.id() + " failed: " + Errno.describe(-r)));
                return;
            }
            int reason = run.exitReason();
            exits[Math.min(reason, ExitReason.COUNT - 1)]++;
            switch (reason) {
                case ExitReason.IO -> handleIo(run, page);
                case ExitReason.MMIO -> handleMmio(run, page);
                case ExitReason.INTR -> VcpuKick.consumePending();
                case ExitReason.HLT -> {
                    // Only seen without an in-kernel irqchip, which would otherwise wait for an interrupt.
                    host.exit(new VmExit(0, VmExit.Reason.HALTED, "vCPU " + fd.id() + " halted"));
                    return;
                }
                case ExitReason.SHUTDOWN -> {
                    host.exit(new VmExit(0, VmExit.Reason.RESET, "triple fault on vCPU " + fd.id() + tripleFaultState()));
                    return;
                }
                case ExitReason.SYSTEM_EVENT -> {
                    int type = run.systemEventType();
                    host.exit(switch (type) {
                        case ExitReason.SYSTEM_EVENT_SHUTDOWN -> new VmExit(0, VmExit.Reason.POWER_OFF, "guest powered off");
                        case ExitReason.SYSTEM_EVENT_RESET -> new VmExit(0, VmExit.Reason.RESET, "guest reset");
                        default -> VmExit.error("guest system event " + type + " (crash) on vCPU " + fd.id());
                    });
                    return;
                }
                case ExitReason.FAIL_ENTRY -> {
                    host.exit(VmExit.error("KVM could not enter vCPU " + fd.id() + ": hardware entry failure reason 0x"
                            + Long.toHexString(run.failEntryReason())));
                    return;
                }
                case ExitReason.INTERNAL_ERROR -> {
                    EmulationAssist.Result result = host.assist().handle(fd, run);
                    if (!result.handled()) {
                        host.exit(VmExit.error("vCPU " + fd.id() + ": " + result.failure()));
                        return;
                    }
                    host.debugger().afterAssist(fd.id());
                }
                case ExitReason.DEBUG -> {
                    // KVM exits for debug events only when a debugger set KVM_SET_GUEST_DEBUG.
                    if (!host.debugger().debugExit(fd.id(), run.debugDr6())) {
                        host.exit(VmExit.error("vCPU " + fd.id() + ": debug exit at 0x" + Long.toHexString(run.debugPc())
                                + " with no debugger attached"));
                        return;
                    }
                }
                default -> {
                    host.exit(VmExit.error("vCPU " + fd.id() + ": unexpected KVM exit " + ExitReason.name(reason)));
                    return;
                }
            }
        }
    }

    private void handleIo(KvmRun run, MemorySegment page) {
        Bus pio = host.pio();
        long header = run.ioHeader();
        int port = KvmRun.ioPort(header);
        int size = KvmRun.ioSize(header);
        int count = KvmRun.ioCount(header);
        long data = run.ioDataOffset();
        boolean out = KvmRun.ioDirection(header) == KvmRun.IO_OUT;
        // String instructions (rep outsb/insb) arrive as several items in one exit.
        for (int i = 0; i < count; i++) {
            long at = data + (long) i * size;
            if (out) {
                pio.write(port, size, load(page, at, size));
            } else {
                store(page, at, size, pio.read(port, size));
            }
        }
    }

    private void handleMmio(KvmRun run, MemorySegment page) {
        Bus mmio = host.mmio();
        long addr = run.mmioPhysAddr();
        int len = Math.min(run.mmioLen(), 8);
        if (run.mmioIsWrite()) {
            mmio.write(addr, len, load(page, KvmRun.MMIO_DATA, len));
        } else {
            store(page, KvmRun.MMIO_DATA, len, mmio.read(addr, len));
        }
    }

    private static long load(MemorySegment page, long at, int size) {
        return switch (size) {
            case 1 -> page.get(ValueLayout.JAVA_BYTE, at) & 0xffL;
            case 2 -> page.get(U16, at) & 0xffffL;
            case 4 -> page.get(U32, at) & 0xffff_ffffL;
            case 8 -> page.get(U64, at);
            default -> {
                long v = 0;
                for (int i = size - 1; i >= 0; i--) {
                    v = (v << 8) | (page.get(ValueLayout.JAVA_BYTE, at + i) & 0xff);
                }
                yield v;
            }
        };
    }

    private static void store(MemorySegment page, long at, int size, long value) {
        switch (size) {
            case 1 -> page.set(ValueLayout.JAVA_BYTE, at, (byte) value);
            case 2 -> page.set(U16, at, (short) value);
            case 4 -> page.set(U32, at, (int) value);
            case 8 -> page.set(U64, at, value);
            default -> {
                for (int i = 0; i < size; i++) {
                    page.set(ValueLayout.JAVA_BYTE, at + i, (byte) (value >>> (8 * i)));
                }
            }
        }
    }

    /** Asks the vCPU, parked in S3, to take its waking state before it runs again. */
    void requestWake() {
        wakePending = true;
    }

    /** Interrupts KVM_RUN (or the next one) so the vCPU looks at its RunControl. */
    void kick() {
        try {
            armed.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        }
        synchronized (kickLock) {
            if (pthread != 0) {
                VcpuKick.kick(pthread);
            }
        }
    }

    /** Exits seen so far, indexed by exit reason; the last slot counts KVM_RUN calls interrupted by a kick. */
    long[] exitCounts() {
        return exits.clone();
    }

}
