package vessel.sys;

import java.util.BitSet;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

class CpuAffinityTest {
    @Test
    void parsesNumbersAndRangesInOrder() {
        assertArrayEquals(new int[] {0, 1, 2, 3, 6}, CpuAffinity.parse("0-3,6"));
        assertArrayEquals(new int[] {5, 1}, CpuAffinity.parse(" 5 , 1 "));
    }

    @Test
    void badListsAreOneClearLine() {
        for (String[] c : new String[][] {
                {"", "empty"}, {"a", "'a' in CPU list 'a' is not a CPU number"}, {"3-1", "runs backwards"},
                {"1,1", "CPU 1 appears twice"}, {"2000", "out of range"}, {"1,", "'' in CPU list"}}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CpuAffinity.parse(c[0]));
            assertFalse(e.getMessage().contains("\n"));
            org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains(c[1]), e.getMessage());
        }
    }

    @Test
    void pinsTheCallingThreadAndReadsItBack() throws Exception {
        BitSet allowed = CpuAffinity.current();
        int cpu = allowed.nextSetBit(0);
        java.util.concurrent.CompletableFuture<BitSet> pinned = new java.util.concurrent.CompletableFuture<>();
        Thread.ofPlatform().start(() -> {
            try {
                CpuAffinity.pinCurrentThread(cpu);
                pinned.complete(CpuAffinity.current());
            } catch (Throwable e) {
                pinned.completeExceptionally(e);
            }
        });
        BitSet now = pinned.get();
        assertEquals(1, now.cardinality());
        assertEquals(cpu, now.nextSetBit(0));
        SysException e = assertThrows(SysException.class, () -> CpuAffinity.pinCurrentThread(CpuAffinity.MAX_CPUS - 1));
        assertEquals(Errno.EINVAL, e.errno(), "a CPU the host does not have");
    }
}
