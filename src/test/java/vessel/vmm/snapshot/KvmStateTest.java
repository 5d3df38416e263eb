package vessel.vmm.snapshot;

import java.util.List;

import org.junit.jupiter.api.Test;

import vessel.kvm.MsrEntry;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The order a restore gives KVM the saved MSRs in, and what a zero TSC deadline becomes. */
class KvmStateTest {
    private static final int LSTAR = MsrEntry.LSTAR;

    @Test
    void theTscAndThenTheDeadlineGoLastWhateverOrderTheyWereSavedIn() {
        List<MsrEntry> order = KvmState.restoreOrder(
                new int[] {MsrEntry.IA32_TSC_DEADLINE, LSTAR, MsrEntry.IA32_TSC, MsrEntry.STAR},
                new long[] {5_000, 7, 4_000, 9});
        assertEquals(List.of(new MsrEntry(LSTAR, 7), new MsrEntry(MsrEntry.STAR, 9),
                new MsrEntry(MsrEntry.IA32_TSC, 4_000), new MsrEntry(MsrEntry.IA32_TSC_DEADLINE, 5_000)), order);
    }

    @Test
    void aDeadlineSavedAsZeroIsRestoredAsTheSavedTscSoTheLostTimerInterruptComes() {
        List<MsrEntry> order = KvmState.restoreOrder(new int[] {MsrEntry.IA32_TSC, MsrEntry.IA32_TSC_DEADLINE},
                new long[] {123_456_789L, 0});
        assertEquals(List.of(new MsrEntry(MsrEntry.IA32_TSC, 123_456_789L),
                new MsrEntry(MsrEntry.IA32_TSC_DEADLINE, 123_456_789L)), order);
    }

    @Test
    void withoutASavedTscAZeroDeadlineStaysZero() {
        assertEquals(List.of(new MsrEntry(LSTAR, 1), new MsrEntry(MsrEntry.IA32_TSC_DEADLINE, 0)),
                KvmState.restoreOrder(new int[] {MsrEntry.IA32_TSC_DEADLINE, LSTAR}, new long[] {0, 1}));
    }
}
