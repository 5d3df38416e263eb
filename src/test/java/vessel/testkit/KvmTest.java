package vessel.testkit;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

import org.junit.jupiter.api.Tag;

/**
 * Marks a test class that needs /dev/kvm. scripts/test runs these natively where KVM works, and on a
 * host without KVM inside a nested-KVM VM (scripts/nested-kvm.sh); elsewhere they skip with the reason.
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@Tag("kvm")
public @interface KvmTest {
}
