package vessel.vmm;

import org.junit.jupiter.api.Test;


import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The guest speed probe's verdicts and its loop (GuestRunTest runs the probe on KVM). */
class GuestSpeedTest {
    @Test
    void kvmPvmsMeasuredSpeedIsEmulatedAndTheNestedVmsAndHardwaresAreFast() {
        // Figures measured on the project's hosts (GuestSpeed.EMULATED_BELOW_MIPS says where).
        assertEquals(GuestSpeed.HostKvm.EMULATED, new GuestSpeed(200_003, 180_000_000).hostKvm()); // 1.1 M/s
        assertEquals(GuestSpeed.HostKvm.FAST, new GuestSpeed(200_003, 18_000_000).hostKvm());      // 11 M/s
        assertEquals(GuestSpeed.HostKvm.FAST, new GuestSpeed(200_003, 150_000).hostKvm());         // 1,333 M/s
        assertTrue(new GuestSpeed(200_003, 180_000_000).describe().contains("1.1 million instructions/s"));
    }

    @Test
    void theLoopCountsDownItsIterationsAndReportsOnThePort() {
        byte[] code = GuestSpeed.loopCode();
        assertArrayEquals(new byte[] {(byte) 0xb9, (byte) 0xa0, (byte) 0x86, 0x01, 0x00}, java.util.Arrays.copyOf(code, 5),
                "mov $100000, %ecx");
        assertArrayEquals(new byte[] {(byte) 0xff, (byte) 0xc9, 0x75, (byte) 0xfc}, java.util.Arrays.copyOfRange(code, 5, 9),
                "dec %ecx; jnz back to the dec");
    }
}
