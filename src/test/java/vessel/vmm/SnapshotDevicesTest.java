package vessel.vmm;

import java.nio.file.Path;
import java.util.List;

import vessel.json.JsonValue;

import org.junit.jupiter.api.Test;

import vessel.devices.RateLimiter;
import vessel.devices.TokenBucket;
import vessel.devices.mmds.MmdsStore;
import vessel.vmm.snapshot.RecordCodec;
import vessel.vmm.snapshot.SnapshotFormatException;
import vessel.vmm.snapshot.VmSnapshot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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

    @Test
    void theMmdsConfigurationIsKeptAndSetOnTheRestoringStoreButItsDataIsNot() throws Exception {
        MmdsStore store = new MmdsStore(MmdsStore.DEFAULT_SIZE_LIMIT);
        store.version(MmdsStore.Version.V2);
        store.ipv4Address(0xA9FE_0102); // 169.254.1.2
        store.imdsCompat(true);
        store.put(JsonValue.parse("{\"latest\": {\"ami-id\": \"ami-1\"}}"));
        VmConfig config = VmConfig.builder().kernel(Path.of("/k")).memory(64L << 20)
                .net(new NetConfig("eth0", "tap0", "52:54:00:00:00:01", null, null))
                .net(new NetConfig("eth1", "tap1", "52:54:00:00:00:02", null, null, store)).build();
        assertNull(SnapshotDevices.refusal(config), "a VM with the MMDS can be snapshotted");

        VmSnapshot.Machine written = new VmSnapshot.Machine(64L << 20, 1, false, true, SnapshotDevices.of(config));
        VmSnapshot.Machine read = RecordCodec.decode(RecordCodec.encode(written), VmSnapshot.Machine.class);
        assertEquals(List.of(new VmSnapshot.Mmds(MmdsStore.Version.V2, 0xA9FE_0102, true, List.of("eth1"))),
                read.devices().mmds());

        MmdsStore api = new MmdsStore(MmdsStore.DEFAULT_SIZE_LIMIT); // the restoring process's store, as the API holds it
        VmConfig restored = SnapshotDevices.config(Path.of("/s/state"), read, RestoreOverrides.NONE.withMmds(api));
        assertNull(restored.net().get(0).mmds());
        assertSame(api, restored.net().get(1).mmds(), "a later PUT /mmds must reach the restored interface");
        assertEquals(MmdsStore.Version.V2, api.version());
        assertEquals(0xA9FE_0102, api.ipv4Address());
        assertTrue(api.imdsCompat());
        assertEquals("{}", api.json(), "Firecracker keeps no MMDS data in a snapshot");

        MmdsStore own = SnapshotDevices.config(Path.of("/s/state"), read, RestoreOverrides.NONE).net().get(1).mmds();
        assertEquals(MmdsStore.Version.V2, own.version(), "without a store given, a new one with the snapshot's settings");
        assertEquals(0xA9FE_0102, own.ipv4Address());

        VmSnapshot.Machine none = new VmSnapshot.Machine(64L << 20, 1, false, true,
                SnapshotDevices.of(VmConfig.builder().kernel(Path.of("/k")).memory(64L << 20)
                        .net(new NetConfig("eth0", "tap0", null)).build()));
        assertEquals(List.of(), none.devices().mmds());
        assertNull(SnapshotDevices.config(Path.of("/s"), none, RestoreOverrides.NONE.withMmds(api)).net().get(0).mmds());
    }

    @Test
    void anMmdsOnAMissingInterfaceOrOffLinkLocalIsRefusedAndTwoStoresCannotBeSnapshotted() throws Exception {
        VmSnapshot.Net eth0 = new VmSnapshot.Net("eth0", "tap0", "52:54:00:00:00:01", VmSnapshot.RateLimit.NONE,
                VmSnapshot.RateLimit.NONE);
        VmSnapshot.Devices lying = new VmSnapshot.Devices(List.of(), false, VmSnapshot.RateLimit.NONE, List.of(eth0),
                List.of(), List.of(), List.of(new VmSnapshot.Mmds(MmdsStore.Version.V1, MmdsStore.DEFAULT_IPV4, false,
                        List.of("eth0"))));
        byte[] bytes = RecordCodec.encode(lying);
        // The same bytes with the interface renamed: "eth0" -> "eth9" in the MMDS's list only (the last one).
        String text = new String(bytes, java.nio.charset.StandardCharsets.ISO_8859_1);
        int at = text.lastIndexOf("eth0");
        bytes[at + 3] = '9';
        SnapshotFormatException e = assertThrows(SnapshotFormatException.class,
                () -> RecordCodec.decode(bytes, VmSnapshot.Devices.class));
        assertEquals("Devices: the MMDS answers on network interface 'eth9', which the snapshot lacks", e.getMessage());

        IllegalArgumentException off = assertThrows(IllegalArgumentException.class,
                () -> new VmSnapshot.Mmds(MmdsStore.Version.V1, 0x0A00_0001, false, List.of("eth0")));
        assertEquals("MMDS address 0xa000001 is not link local", off.getMessage());

        VmConfig two = VmConfig.builder().kernel(Path.of("/k")).memory(64L << 20)
                .net(new NetConfig("eth0", "tap0", null, null, null, new MmdsStore(100)))
                .net(new NetConfig("eth1", "tap1", null, null, null, new MmdsStore(100))).build();
        assertEquals("snapshots of VMs whose network interfaces answer from different MMDS stores are not supported",
                SnapshotDevices.refusal(two));
        VmConfig display = VmConfig.builder().kernel(Path.of("/k")).memory(64L << 20)
                .displayAdapter(VmConfig.DisplayAdapter.BOCHS).build();
        assertEquals("snapshots of VMs with a display or input devices are not supported yet",
                SnapshotDevices.refusal(display));
    }
}
