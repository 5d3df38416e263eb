package vessel.vmm.snapshot;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Hostile state files: whatever the bytes, decoding returns a self-consistent snapshot or refuses with a
 * {@link SnapshotFormatException}; any other exception (or an OutOfMemoryError from a length taken on
 * trust) is a finding. Most inputs get past the checksum (the harness sums them), so the decoder itself
 * is what is fuzzed.
 */
class SnapshotFileFuzzTest {
    private static final byte[] GOOD = SnapshotFile.encode(Snapshots.sample(2, VmSnapshot.Type.DIFF));

    @FuzzTest(maxDuration = "5s")
    void stateFiles(FuzzedDataProvider data) {
        byte[] file = switch (data.consumeInt(0, 2)) {
            case 0 -> data.consumeRemainingAsBytes(); // raw: header checks
            case 1 -> SnapshotFileTest.withBody(data.consumeRemainingAsBytes()); // any body, correctly summed
            default -> { // a real body with some bytes changed, summed again
                byte[] body = java.util.Arrays.copyOfRange(GOOD, 48, GOOD.length);
                int edits = data.consumeInt(1, 16);
                for (int i = 0; i < edits && data.remainingBytes() > 0; i++) {
                    body[data.consumeInt(0, body.length - 1)] = data.consumeByte();
                }
                yield SnapshotFileTest.withBody(body);
            }
        };
        try {
            VmSnapshot s = SnapshotFile.decode(file, "fuzzed");
            if (s.vcpus().size() != s.machine().cpus() || s.memory().bytes() != s.machine().memoryBytes()) {
                throw new AssertionError("an inconsistent snapshot decoded");
            }
        } catch (SnapshotFormatException expected) {
            if (expected.getMessage() == null || expected.getMessage().contains("\n")) {
                throw new AssertionError("a refusal is one line: " + expected.getMessage());
            }
        }
    }
}
