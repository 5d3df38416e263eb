package vessel.vmm;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;

import vessel.devices.RateLimiter;
import vessel.devices.TokenBucket;
import vessel.vmm.snapshot.RecordCodec;
import vessel.vmm.snapshot.VmSnapshot;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** What a state file keeps of a VM's devices, through the file's own encoding, and what a restore builds from it. */
class SnapshotDevicesTest {
    @Test
    void rateLimitersComeBackAsTheyWereSetAndUnlimitedStaysUnlimited() throws Exception {
        RateLimiter.Config disk = new RateLimiter.Config(new TokenBucket.Config(4 << 20, 1 << 20, 100), null);
        RateLimiter.Config rx = new RateLimiter.Config(null, new TokenBucket.Config(500, 0, 1000));
        RateLimiter.Config entropy = new RateLimiter.Config(new TokenBucket.Config(1024, 0, 50), new TokenBucket.Config(10, 5, 1000));
        VmConfig config = VmConfig.builder().kernel(Path.of("/k")).memory(64L << 20)
                .drive(new DriveConfig("root", Path.of("/disks/root.img"), false, null, disk))
                .drive(Path.of("/disks/data.img"), true, "data")
                .net(new NetConfig("eth0", "tap0", "52:54:00:00:00:01", rx, RateLimiter.Config.NONE))
                .entropy(true).entropyRateLimit(entropy).build();

        VmSnapshot.Machine written = new VmSnapshot.Machine(64L << 20, 1, false, true, SnapshotDevices.of(config));
        VmSnapshot.Machine read = RecordCodec.decode(RecordCodec.encode(written), VmSnapshot.Machine.class);
        VmConfig restored = SnapshotDevices.config(Path.of("/s/state"), read, RestoreOverrides.NONE);

        assertEquals(disk, restored.drives().get(0).rateLimit());
        assertEquals(RateLimiter.Config.NONE, restored.drives().get(1).rateLimit());
        assertEquals(rx, restored.net().get(0).rxRateLimit());
        assertEquals(RateLimiter.Config.NONE, restored.net().get(0).txRateLimit());
        assertEquals(entropy, restored.entropyRateLimit());
    }
}
