package vessel.vmm.control;

/**
 * Firecracker's rules for which request the microVM accepts in which state, in one place. Configuration
 * is pre-boot only; pause, resume, Ctrl-Alt-Del, metrics flushes and device updates are post-boot only;
 * reads are always allowed. Not thread-safe: {@link VmmController} serializes requests.
 */
public final class Lifecycle {
    /** The microVM's state as {@code GET /} reports it. */
    public enum State {
        NOT_STARTED("Not started"),
        RUNNING("Running"),
        PAUSED("Paused");

        private final String apiName;

        State(String apiName) {
            this.apiName = apiName;
        }

        /** The InstanceInfo {@code state} string. */
        public String apiName() {
            return apiName;
        }
    }

    /** What a request asks for, as far as the state rules go. */
    public enum Operation {
        /** GET of anything. */
        READ(true, true),
        /**
         * PUT boot-source, machine-config, drives, network-interfaces, vsock, entropy, logger, metrics, balloon, pmem,
         * serial, cpu-config; PATCH machine-config.
         */
        CONFIGURE(true, false),
        /** PUT /actions InstanceStart. */
        START(true, false),
        /** PATCH drives, network-interfaces, pmem, balloon, balloon/statistics; the balloon's statistics and hinting. */
        UPDATE_DEVICE(false, true),
        /** PATCH /vm Paused. */
        PAUSE(false, true),
        /** PATCH /vm Resumed. */
        RESUME(false, true),
        /** PUT /actions SendCtrlAltDel. */
        CTRL_ALT_DEL(false, true),
        /** PUT /actions FlushMetrics. */
        FLUSH_METRICS(false, true),
        /** PUT /snapshot/create (the microVM must also be paused). */
        SNAPSHOT_CREATE(false, true),
        /** PUT /snapshot/load (only on a fresh process: nothing but logger and metrics configured). */
        SNAPSHOT_LOAD(true, false);

        private final boolean preBoot;
        private final boolean postBoot;

        Operation(boolean preBoot, boolean postBoot) {
            this.preBoot = preBoot;
            this.postBoot = postBoot;
        }
    }

    public static final String NOT_SUPPORTED_PRE_BOOT = "The requested operation is not supported before starting the microVM.";
    public static final String NOT_SUPPORTED_POST_BOOT = "The requested operation is not supported after starting the microVM.";

    private State state = State.NOT_STARTED;

    State state() {
        return state;
    }

    /** Throws Firecracker's error if {@code op} is not allowed now. */
    void check(Operation op) throws VmmActionException {
        boolean booted = state != State.NOT_STARTED;
        if (booted && !op.postBoot) {
            throw new VmmActionException(NOT_SUPPORTED_POST_BOOT);
        }
        if (!booted && !op.preBoot) {
            throw new VmmActionException(NOT_SUPPORTED_PRE_BOOT);
        }
    }

    /** The microVM booted. */
    void started() {
        require(State.NOT_STARTED);
        state = State.RUNNING;
    }

    /** A snapshot was loaded: the microVM exists, paused or (resume_vm) running. */
    void loaded(boolean running) {
        require(State.NOT_STARTED);
        state = running ? State.RUNNING : State.PAUSED;
    }

    /** Its vCPUs are parked; pausing a paused microVM changes nothing, as in Firecracker. */
    void paused() {
        if (state == State.NOT_STARTED) {
            throw new IllegalStateException("pause before boot");
        }
        state = State.PAUSED;
    }

    /** Its vCPUs run again; resuming a running microVM changes nothing. */
    void resumed() {
        if (state == State.NOT_STARTED) {
            throw new IllegalStateException("resume before boot");
        }
        state = State.RUNNING;
    }

    private void require(State expected) {
        if (state != expected) {
            throw new IllegalStateException("expected state " + expected + ", was " + state);
        }
    }
}
