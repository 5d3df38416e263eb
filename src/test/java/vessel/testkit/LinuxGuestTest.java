package vessel.testkit;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

import org.junit.jupiter.api.Tag;

/**
 * Marks a KVM test class or method that boots a stock Linux kernel. Where KVM emulates guest code such a boot takes
 * many minutes, so scripts/test runs these in the nested-KVM VM there, and elsewhere they skip with the
 * reason ({@link RequiresKvm#assumeLinuxGuests}) rather than hang.
 */
@Target({ElementType.TYPE, ElementType.METHOD})
@Retention(RetentionPolicy.RUNTIME)
@Tag("kvm")
@Tag("linux-guest")
public @interface LinuxGuestTest {
}
