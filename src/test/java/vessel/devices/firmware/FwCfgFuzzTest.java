package vessel.devices.firmware;

import java.lang.foreign.Arena;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import vessel.memory.GuestMemory;
import vessel.testkit.TestMemory;

/**
 * fw_cfg under any sequence of selector, data and DMA-register accesses, with guest memory (where the
 * DMA access structures live) filled by the fuzzer: no access throws, a read is no wider than asked, and
 * nothing is written outside guest memory (GuestMemory would throw).
 */
class FwCfgFuzzTest {
    private static final int MEMORY = 64 << 10;
    private static final int MAX_ACCESSES = 64;

    @FuzzTest(maxDuration = "5s")
    void selectorDataAndDma(FuzzedDataProvider data) {
        try (Arena arena = Arena.ofConfined()) {
            GuestMemory memory = TestMemory.of(arena, MEMORY);
            memory.write(0, data.consumeBytes(data.consumeInt(0, 4096)));
            FwCfg cfg = FwCfg.builder()
                    .u16(FwCfg.NB_CPUS, 1)
                    .file("etc/table-loader", new byte[300])
                    .file("bootorder", new byte[0])
                    .build(memory);
            for (int i = 0; i < MAX_ACCESSES && data.remainingBytes() > 0; i++) {
                int size = data.pickValue(new int[] {1, 2, 4});
                int offset = data.consumeInt(0, FwCfg.LENGTH - size);
                if (data.consumeBoolean()) {
                    long v = cfg.read(offset, size);
                    if (size < 8 && (v >>> (8 * size)) != 0) {
                        throw new AssertionError("read of " + size + " bytes gave 0x" + Long.toHexString(v));
                    }
                } else {
                    // Aim DMA at the fuzzed memory most of the time, anywhere at all otherwise.
                    long value = data.consumeBoolean() ? Integer.reverseBytes(data.consumeInt(0, MEMORY))
                            : data.consumeLong();
                    cfg.write(offset, size, value & (size == 4 ? 0xffff_ffffL : (1L << (8 * size)) - 1));
                }
            }
        }
    }
}
