package vessel.vmm.snapshot;

import java.util.ArrayList;
import java.util.List;

import vessel.devices.legacy.I8042;
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
        return new VmSnapshot(new VmSnapshot.Machine(bytes, cpus, true, false),
                new VmSnapshot.VmState(new byte[chip], new byte[chip], new byte[chip],
                        new byte[(int) StateStructs.PIT_STATE2.byteSize()], 1_000_000L),
                vcpus,
                List.of(new VmSnapshot.DeviceState("i8042", I8042.State.class.getName(),
                        RecordCodec.encode(new I8042.State(0x45, -1, false, 0xfa, false, new int[] {0x1fa})))),
                new VmSnapshot.Memory(type, bytes, type == VmSnapshot.Type.DIFF ? new long[] {32, 1, 100, 4} : new long[0]));
    }
}
