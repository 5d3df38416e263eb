package vessel.kvm;

/** {@code kvm_run.exit_reason} values that Vessel's vCPU loop distinguishes. */
public final class ExitReason {
    public static final int UNKNOWN = 0;
    public static final int EXCEPTION = 1;
    public static final int IO = 2;
    public static final int HYPERCALL = 3;
    public static final int DEBUG = 4;
    public static final int HLT = 5;
    public static final int MMIO = 6;
    public static final int IRQ_WINDOW_OPEN = 7;
    public static final int SHUTDOWN = 8;
    public static final int FAIL_ENTRY = 9;
    public static final int INTR = 10;
    public static final int NMI = 16;
    public static final int INTERNAL_ERROR = 17;
    public static final int SYSTEM_EVENT = 24;
    /** Exit reasons are small integers; per-reason counters index arrays of this size. */
    public static final int COUNT = 40;

    public static final int SYSTEM_EVENT_SHUTDOWN = 1;
    public static final int SYSTEM_EVENT_RESET = 2;
    public static final int SYSTEM_EVENT_CRASH = 3;

    public static final int INTERNAL_ERROR_EMULATION = 1;
    public static final int INTERNAL_ERROR_SIMUL_EX = 2;
    public static final int INTERNAL_ERROR_DELIVERY_EV = 3;

    private ExitReason() {}

    public static String name(int reason) {
        return switch (reason) {
            case UNKNOWN -> "UNKNOWN";
            case EXCEPTION -> "EXCEPTION";
            case IO -> "IO";
            case HYPERCALL -> "HYPERCALL";
            case DEBUG -> "DEBUG";
            case HLT -> "HLT";
            case MMIO -> "MMIO";
            case IRQ_WINDOW_OPEN -> "IRQ_WINDOW_OPEN";
            case SHUTDOWN -> "SHUTDOWN";
            case FAIL_ENTRY -> "FAIL_ENTRY";
            case INTR -> "INTR";
            case NMI -> "NMI";
            case INTERNAL_ERROR -> "INTERNAL_ERROR";
            case SYSTEM_EVENT -> "SYSTEM_EVENT";
            default -> "exit " + reason;
        };
    }
}
