package vessel.kvm;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * The vCPU's shared {@code struct kvm_run} page, read and written in place: an exit is decoded from it
 * without copying or allocating. Offsets are those of {@code linux/kvm.h} (pinned by KvmLayoutTest).
 */
public final class KvmRun {
    public static final long REQUEST_INTERRUPT_WINDOW = 0;
    public static final long IMMEDIATE_EXIT = 1;
    public static final long EXIT_REASON = 8;
    public static final long READY_FOR_INTERRUPT_INJECTION = 12;
    public static final long IF_FLAG = 13;
    public static final long CR8 = 16;
    public static final long APIC_BASE = 24;
    /** The exit-specific union. */
    public static final long EXIT = 32;
    public static final long IO_DIRECTION = EXIT;
    public static final long IO_SIZE = EXIT + 1;
    public static final long IO_PORT = EXIT + 2;
    public static final long IO_COUNT = EXIT + 4;
    public static final long IO_DATA_OFFSET = EXIT + 8;
    public static final long MMIO_PHYS_ADDR = EXIT;
    public static final long MMIO_DATA = EXIT + 8;
    public static final long MMIO_LEN = EXIT + 16;
    public static final long MMIO_IS_WRITE = EXIT + 20;
    public static final long FAIL_ENTRY_REASON = EXIT;
    public static final long FAIL_ENTRY_CPU = EXIT + 8;
    public static final long INTERNAL_SUBERROR = EXIT;
    public static final long INTERNAL_NDATA = EXIT + 4;
    public static final long INTERNAL_DATA = EXIT + 8;
    public static final long EMULATION_FLAGS = EXIT + 8;
    public static final long EMULATION_INSN_SIZE = EXIT + 16;
    public static final long EMULATION_INSN_BYTES = EXIT + 17;
    public static final long SYSTEM_EVENT_TYPE = EXIT;
    public static final long SYSTEM_EVENT_NDATA = EXIT + 4;
    public static final long SYSTEM_EVENT_DATA = EXIT + 8;
    public static final long DEBUG_EXCEPTION = EXIT;
    public static final long DEBUG_PC = EXIT + 8;
    public static final long DEBUG_DR6 = EXIT + 16;
    public static final long DEBUG_DR7 = EXIT + 24;
    public static final int IO_IN = 0;
    public static final int IO_OUT = 1;

    private final MemorySegment run;

    KvmRun(MemorySegment run) {
        this.run = run;
    }

    /** The mapping itself, for the exit handler to read I/O data in place. */
    public MemorySegment segment() {
        return run;
    }

    public int exitReason() {
        return run.get(JAVA_INT, EXIT_REASON);
    }

    /** Sets the exit reason to KVM_EXIT_UNKNOWN (0): KVM_RUN writes it afresh on every exit. */
    public void clearExitReason() {
        run.set(JAVA_INT, EXIT_REASON, ExitReason.UNKNOWN);
    }

    public void setImmediateExit(boolean on) {
        run.set(JAVA_BYTE, IMMEDIATE_EXIT, (byte) (on ? 1 : 0));
    }

    /**
     * KVM_EXIT_IO's first 8 bytes in one read: direction, size, port and count, decoded by the static
     * {@code io*(long)} methods (x86 is little-endian: direction is the low byte). The exit path reads
     * this and {@link #ioDataOffset()} instead of four fields one by one.
     */
    public long ioHeader() {
        return run.get(JAVA_LONG, IO_DIRECTION);
    }

    public static int ioDirection(long header) {
        return (int) header & 0xff;
    }

    public static int ioSize(long header) {
        return (int) (header >>> 8) & 0xff;
    }

    public static int ioPort(long header) {
        return (int) (header >>> 16) & 0xffff;
    }

    public static int ioCount(long header) {
        return (int) (header >>> 32);
    }

    public int ioDirection() {
        return run.get(JAVA_BYTE, IO_DIRECTION);
    }

    public int ioSize() {
        return run.get(JAVA_BYTE, IO_SIZE);
    }

    public int ioPort() {
        return Short.toUnsignedInt(run.get(JAVA_SHORT, IO_PORT));
    }

    public int ioCount() {
        return run.get(JAVA_INT, IO_COUNT);
    }

    public long ioDataOffset() {
        return run.get(JAVA_LONG, IO_DATA_OFFSET);
    }

    public long mmioPhysAddr() {
        return run.get(JAVA_LONG, MMIO_PHYS_ADDR);
    }

    public int mmioLen() {
        return run.get(JAVA_INT, MMIO_LEN);
    }

    public boolean mmioIsWrite() {
        return run.get(JAVA_BYTE, MMIO_IS_WRITE) != 0;
    }

    public long failEntryReason() {
        return run.get(JAVA_LONG, FAIL_ENTRY_REASON);
    }

    public int internalSuberror() {
        return run.get(JAVA_INT, INTERNAL_SUBERROR);
    }

    public int internalNdata() {
        return run.get(JAVA_INT, INTERNAL_NDATA);
    }

    public long internalData(int i) {
        return run.get(JAVA_LONG, INTERNAL_DATA + 8L * i);
    }

    /** The instruction bytes KVM reports with an emulation failure, or an empty array when it gave none. */
    public byte[] emulationInstructionBytes() {
        if (internalSuberror() != ExitReason.INTERNAL_ERROR_EMULATION || internalNdata() < 3
                || (run.get(JAVA_LONG, EMULATION_FLAGS) & 1) == 0) {
            return new byte[0];
        }
        int n = Math.min(15, run.get(JAVA_BYTE, EMULATION_INSN_SIZE) & 0xff);
        return run.asSlice(EMULATION_INSN_BYTES, n).toArray(JAVA_BYTE);
    }

    /** KVM_EXIT_DEBUG: the exception vector (1 for #DB, 3 for #BP). */
    public int debugException() {
        return run.get(JAVA_INT, DEBUG_EXCEPTION);
    }

    /** KVM_EXIT_DEBUG: the linear address of the instruction where the vCPU stopped. */
    public long debugPc() {
        return run.get(JAVA_LONG, DEBUG_PC);
    }

    /** KVM_EXIT_DEBUG: DR6 as the debug event set it (B0-B3 for a breakpoint, BS for a step). */
    public long debugDr6() {
        return run.get(JAVA_LONG, DEBUG_DR6);
    }

    public int systemEventType() {
        return run.get(JAVA_INT, SYSTEM_EVENT_TYPE);
    }
}
