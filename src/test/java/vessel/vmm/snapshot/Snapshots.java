package vessel.vmm.snapshot;

import java.util.ArrayList;
import java.util.List;

import vessel.devices.TokenBucket;
import vessel.devices.legacy.I8042;
import vessel.devices.pci.MsiXTable;
import vessel.devices.pci.VirtioPciFunction;
import vessel.devices.virtio.VirtQueue;
import vessel.devices.virtio.VirtioBlock;
import vessel.kvm.StateStructs;
import vessel.kvm.VcpuStateBlob;

/** Well-formed snapshots without KVM, for the format's tests and as the fuzzer's starting point. */
final class Snapshots {
    private Snapshots() {}

    static VmSnapshot sample(int cpus, VmSnapshot.Type type) {
        List<VmSnapshot.VcpuState> vcpus = new ArrayList<>();
        for (int i = 0; i < cpus; i++) {
            List<byte[]> blobs = new ArrayList<>();
            for (VcpuStateBlob b : VcpuStateBlob.values()) {
                byte[] raw = new byte[b.bytes()];
                raw[0] = (byte) (i + b.ordinal());
                blobs.add(raw);
            }
            vcpus.add(new VmSnapshot.VcpuState(i, blobs, new int[] {0x10, 0x174}, new long[] {123, 8},
                    new int[] {0, 0, 0, 0xd, 0x756e6547, 0x6c65746e, 0x49656e69}));
        }
        int chip = (int) StateStructs.IRQCHIP.byteSize();
        long bytes = 16L << 20;
        VmSnapshot.Devices devices = new VmSnapshot.Devices(
                List.of(new VmSnapshot.Drive("rootfs", "/images/rootfs.ext4", false, "raw", 1, new VmSnapshot.RateLimit(
                        new TokenBucket.Config(1 << 20, 0, 100), new TokenBucket.Config(0, 0, 0)))), true, VmSnapshot.RateLimit.NONE,
                List.of(new VmSnapshot.Net("eth0", "tap0", "52:54:00:01:02:03", VmSnapshot.RateLimit.NONE,
                        new VmSnapshot.RateLimit(new TokenBucket.Config(0, 0, 0), new TokenBucket.Config(1000, 100, 1000)))),
                List.of(new VmSnapshot.Vsock(3, "/run/v.sock")), List.of(new VmSnapshot.Balloon(16, true, 1, false, false)));
        List<VirtQueue.State> queues = List.of(
                new VirtQueue.State(256, 0x10000, 0x11000, 0x12000, true, true, true, true, 7, 7, 6));
        VirtioPciFunction.State transport = new VirtioPciFunction.State(2, new byte[4096],
                new MsiXTable.State(new long[] {0xfee00000L, 0xfee00000L}, new int[] {0x41, 0x42}, new int[] {0, 1},
                        new long[] {2}),
                0, 1, 0x1_3000_0000L, 1, 0xf, 0, 0, 0, true, new int[] {0}, queues);
        return new VmSnapshot(new VmSnapshot.Machine(bytes, cpus, true, true, devices),
                new VmSnapshot.VmState(new byte[chip], new byte[chip], new byte[chip],
                        new byte[(int) StateStructs.PIT_STATE2.byteSize()], 1_000_000L),
                vcpus,
                List.of(new VmSnapshot.DeviceState("i8042", I8042.State.class.getName(),
                        RecordCodec.encode(new I8042.State(0x45, -1, false, 0xfa, false, new int[] {0x1fa}))),
                        new VmSnapshot.DeviceState("virtio-blk rootfs device", VirtioBlock.State.class.getName(),
                                RecordCodec.encode(new VirtioBlock.State(2048, false, 1))),
                        new VmSnapshot.DeviceState("virtio-blk rootfs", VirtioPciFunction.State.class.getName(),
                                RecordCodec.encode(transport))),
                new VmSnapshot.Memory(type, bytes, type == VmSnapshot.Type.DIFF ? new long[] {32, 1, 100, 4} : new long[0]));
    }
}
