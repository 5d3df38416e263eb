package vessel.testkit;

import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;

/**
 * Prints why each test was skipped, so a build log says "skipped: KVM unavailable: ..." rather than
 * only a count. Registered through META-INF/services.
 */
public final class SkipReporter implements TestExecutionListener {
    @Override
    public void executionFinished(TestIdentifier id, TestExecutionResult result) {
        if (result.getStatus() == TestExecutionResult.Status.ABORTED && id.isTest()) {
            String why = result.getThrowable().map(Throwable::getMessage).orElse("no reason given");
            System.out.println("SKIPPED " + id.getDisplayName() + " [" + id.getUniqueId().replaceAll(".*class:([^\\]]*).*", "$1")
                    + "]: " + why.replaceFirst("^Assumption failed: ", ""));
        }
    }

    @Override
    public void executionSkipped(TestIdentifier id, String reason) {
        System.out.println("SKIPPED " + id.getDisplayName() + ": " + reason);
    }
}
