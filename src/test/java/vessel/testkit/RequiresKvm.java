package vessel.testkit;

import org.junit.jupiter.api.Assumptions;

import vessel.kvm.Kvm;

/**
 * Skips a test, with the reason in the report, when this host cannot run KVM guests. A KVM test that
 * cannot run is reported skipped, never passed.
 */
public final class RequiresKvm {
    private static final String REASON = Kvm.unavailableReason();

    private RequiresKvm() {}

    public static void assumeKvm() {
        Assumptions.assumeTrue(REASON == null, () -> "skipped: KVM unavailable: " + REASON);
    }

    public static boolean available() {
        return REASON == null;
    }
}
