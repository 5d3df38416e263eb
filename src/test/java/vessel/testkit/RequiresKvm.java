package vessel.testkit;

import java.io.IOException;

import org.junit.jupiter.api.Assumptions;

import vessel.kvm.Kvm;
import vessel.vmm.GuestSpeed;

/**
 * Skips a test, with the reason in the report, when this host cannot run KVM guests. A KVM test that
 * cannot run is reported skipped, never passed.
 */
public final class RequiresKvm {
    /**
     * {@code run} boots Linux guests whatever the host's KVM speed (the nested-KVM VM's run sets it: it
     * is the place chosen for them); {@code auto}, the default, skips them where guest code is emulated.
     */
    static final String LINUX_GUESTS_PROPERTY = "vessel.linux.guests";
    private static final String REASON = Kvm.unavailableReason();

    private RequiresKvm() {}

    public static void assumeKvm() {
        Assumptions.assumeTrue(REASON == null, () -> "skipped: KVM unavailable: " + REASON);
    }

    public static boolean available() {
        return REASON == null;
    }

    /** For {@link LinuxGuestTest}s: KVM, and a KVM that runs guest code fast enough to boot Linux in a test. */
    public static void assumeLinuxGuests() {
        assumeKvm();
        String why = LinuxGuestSpeed.REASON;
        Assumptions.assumeTrue(why == null, () -> "skipped: " + why);
    }

    /** Measured once, on first use, by the same probe that the launcher and scripts/test use. */
    private static final class LinuxGuestSpeed {
        static final String REASON = measure();

        private static String measure() {
            if ("run".equals(System.getProperty(LINUX_GUESTS_PROPERTY, "auto"))) {
                return null;
            }
            try (Kvm kvm = Kvm.open()) {
                GuestSpeed speed = GuestSpeed.measure(kvm);
                return speed.hostKvm() == GuestSpeed.HostKvm.EMULATED
                        ? speed.describe() + "; scripts/test runs the Linux-guest tests in the nested-KVM VM on such "
                                + "a host (-D" + LINUX_GUESTS_PROPERTY + "=run runs them here anyway)"
                        : null;
            } catch (IOException e) {
                return "the guest speed probe failed: " + e.getMessage();
            }
        }
    }
}
