package vessel.vmm.snapshot;

import java.util.List;

import vessel.devices.RateLimiter;
import vessel.devices.TokenBucket;
import vessel.devices.mmds.MmdsStore;
import vessel.kvm.VcpuStateBlob;

/**
 * Everything a state file holds: how to rebuild the machine, the KVM state of the VM and each vCPU, each
 * device's state record, and what the memory file next to it contains. Each record's constructor refuses
 * what no Vessel would have written, so a decoded snapshot is at least self-consistent.
 */
public record VmSnapshot(Machine machine, VmState vm, List<VcpuState> vcpus, List<DeviceState> devices, Memory memory) {
    public VmSnapshot {
        if (vcpus.size() != machine.cpus()) {
            throw new IllegalArgumentException(vcpus.size() + " vCPU states for " + machine.cpus() + " vCPUs");
        }
        for (int i = 0; i < vcpus.size(); i++) {
            if (vcpus.get(i).id() != i) {
                throw new IllegalArgumentException("vCPU state " + i + " is for vCPU " + vcpus.get(i).id());
            }
        }
        if (memory.bytes() != machine.memoryBytes()) {
            throw new IllegalArgumentException("memory image of " + memory.bytes() + " bytes for a "
                    + machine.memoryBytes() + "-byte guest");
        }
        vcpus = List.copyOf(vcpus);
        devices = List.copyOf(devices);
    }

    /** The names of the devices this snapshot expects, in its order. */
    public List<String> deviceNames() {
        return devices.stream().map(DeviceState::name).toList();
    }

    /**
     * What is rebuilt before any state is put back: the machine as it was made, without its kernel (the
     * guest's memory already holds it).
     *
     * @param pci the PCI root was made (Linux guests), so its ports and ECAM window exist again
     */
    public record Machine(long memoryBytes, int cpus, boolean debugExit, boolean pci, Devices devices) {
        public Machine {
            if (memoryBytes <= 0 || memoryBytes % 4096 != 0) {
                throw new IllegalArgumentException("guest memory of " + memoryBytes + " bytes is not whole pages");
            }
            if (cpus < 1 || cpus > 254) {
                throw new IllegalArgumentException(cpus + " vCPUs");
            }
            if (!devices.equals(Devices.NONE) && !pci) {
                throw new IllegalArgumentException("virtio devices without a PCI bus");
            }
        }

        /** A machine without virtio devices. */
        public Machine(long memoryBytes, int cpus, boolean debugExit, boolean pci) {
            this(memoryBytes, cpus, debugExit, pci, Devices.NONE);
        }
    }

    /**
     * The virtio devices the machine was made with, in the order they sit on the PCI bus, and how to reach
     * their host side again: disks and the vsock socket by path, TAPs by name (each replaceable at restore),
     * and their rate limiters as Firecracker keeps them (the configuration; a restored bucket starts full).
     *
     * @param vsock   at most one
     * @param balloon at most one
     * @param mmds    at most one: the metadata service's configuration (its data store is not kept, as Firecracker
     *                does not keep it: the client PUTs it again after a load)
     */
    public record Devices(List<Drive> drives, boolean entropy, RateLimit entropyRateLimit, List<Net> nets, List<Vsock> vsock,
                          List<Balloon> balloon, List<Mmds> mmds) {
        public static final Devices NONE = new Devices(List.of(), false, RateLimit.NONE, List.of(), List.of(), List.of());

        public Devices {
            if (drives.size() > 32 || nets.size() > 32 || vsock.size() > 1 || balloon.size() > 1 || mmds.size() > 1) {
                throw new IllegalArgumentException(drives.size() + " drives, " + nets.size() + " network interfaces, "
                        + vsock.size() + " vsock, " + balloon.size() + " balloon devices and " + mmds.size() + " MMDS");
            }
            drives = List.copyOf(drives);
            nets = List.copyOf(nets);
            vsock = List.copyOf(vsock);
            balloon = List.copyOf(balloon);
            mmds = List.copyOf(mmds);
            List<String> netIds = nets.stream().map(Net::id).toList();
            for (Mmds m : mmds) {
                for (String iface : m.ifaces()) {
                    if (!netIds.contains(iface)) {
                        throw new IllegalArgumentException("the MMDS answers on network interface '" + shown(iface)
                                + "', which the snapshot lacks");
                    }
                }
            }
        }

        /** Without the MMDS. */
        public Devices(List<Drive> drives, boolean entropy, RateLimit entropyRateLimit, List<Net> nets, List<Vsock> vsock,
                       List<Balloon> balloon) {
            this(drives, entropy, entropyRateLimit, nets, vsock, balloon, List.of());
        }
    }

    /**
     * The MMDS as PUT /mmds/config set it (Firecracker's MmdsNetworkStackState): its version, the IPv4 address
     * it answers at (host order), EC2 IMDS compatibility, and the network interfaces whose frames reach it.
     */
    public record Mmds(MmdsStore.Version version, int ipv4Address, boolean imdsCompat, List<String> ifaces) {
        public Mmds {
            if (ifaces.isEmpty() || ifaces.size() > 32) {
                throw new IllegalArgumentException("the MMDS answers on " + ifaces.size() + " network interfaces");
            }
            int third = (ipv4Address >>> 8) & 0xFF;
            if ((ipv4Address >>> 16) != 0xA9FE || third == 0 || third == 255) {
                throw new IllegalArgumentException("MMDS address 0x" + Integer.toHexString(ipv4Address) + " is not link local");
            }
            ifaces = List.copyOf(ifaces);
        }
    }

    /**
     * A rate limiter's configuration: each bucket's size, one-time burst and refill time, all three zero for no
     * bucket (the file has no nulls).
     */
    public record RateLimit(TokenBucket.Config bandwidth, TokenBucket.Config ops) {
        private static final TokenBucket.Config NO_BUCKET = new TokenBucket.Config(0, 0, 0);
        public static final RateLimit NONE = new RateLimit(NO_BUCKET, NO_BUCKET);

        public static RateLimit of(RateLimiter.Config config) {
            return new RateLimit(config.bandwidth() == null ? NO_BUCKET : config.bandwidth(),
                    config.ops() == null ? NO_BUCKET : config.ops());
        }

        public RateLimiter.Config config() {
            return new RateLimiter.Config(bandwidth.equals(NO_BUCKET) ? null : bandwidth, ops.equals(NO_BUCKET) ? null : ops);
        }
    }

    /** A drive: {@code format} "raw" or "qcow2", or "" where it was probed. */
    public record Drive(String id, String path, boolean readOnly, String format, int queues, RateLimit rateLimit) {
        public Drive {
            if (!List.of("", "raw", "qcow2").contains(format)) {
                throw new IllegalArgumentException("disk format '" + shown(format) + "'");
            }
        }
    }

    /** A string from the file as a refusal shows it: one line, control characters as '?', at most 40 characters. */
    static String shown(String s) {
        String line = s.replaceAll("\\p{Cntrl}", "?");
        return line.length() <= 40 ? line : line.substring(0, 40) + "...";
    }

    /** An interface: {@code mac} as six hex pairs with colons. */
    public record Net(String id, String tap, String mac, RateLimit rxRateLimit, RateLimit txRateLimit) {
        public Net {
            if (!mac.matches("([0-9a-f]{2}:){5}[0-9a-f]{2}")) {
                throw new IllegalArgumentException("MAC address '" + shown(mac) + "'");
            }
        }
    }

    public record Vsock(long cid, String uds) {
    }

    public record Balloon(long targetMib, boolean deflateOnOom, int statsIntervalSeconds, boolean freePageHinting,
                          boolean freePageReporting) {
    }

    /** The in-kernel irqchip (both PICs and the IOAPIC), PIT and kvmclock, as KVM gave them. */
    public record VmState(byte[] picMaster, byte[] picSlave, byte[] ioapic, byte[] pit, long clockNanos) {
        public VmState {
            for (byte[] chip : List.of(picMaster, picSlave, ioapic)) {
                if (chip.length != vessel.kvm.StateStructs.IRQCHIP.byteSize()) {
                    throw new IllegalArgumentException("irqchip state of " + chip.length + " bytes");
                }
            }
            if (pit.length != vessel.kvm.StateStructs.PIT_STATE2.byteSize()) {
                throw new IllegalArgumentException("PIT state of " + pit.length + " bytes");
            }
        }
    }

    /**
     * One vCPU: a blob per {@link VcpuStateBlob} in its order, the MSRs KVM lists (index and value), and
     * its CPUID table (7 words per entry: function, index, flags, eax, ebx, ecx, edx).
     */
    public record VcpuState(int id, List<byte[]> blobs, int[] msrIndices, long[] msrValues, int[] cpuid) {
        public VcpuState {
            VcpuStateBlob[] kinds = VcpuStateBlob.values();
            if (blobs.size() != kinds.length) {
                throw new IllegalArgumentException(blobs.size() + " pieces of vCPU state, not " + kinds.length);
            }
            for (int i = 0; i < kinds.length; i++) {
                if (blobs.get(i).length != kinds[i].bytes()) {
                    throw new IllegalArgumentException(kinds[i] + " state of " + blobs.get(i).length + " bytes, not "
                            + kinds[i].bytes());
                }
            }
            if (msrIndices.length != msrValues.length) {
                throw new IllegalArgumentException(msrIndices.length + " MSR indices for " + msrValues.length + " values");
            }
            if (cpuid.length % 7 != 0 || cpuid.length / 7 > 256) {
                throw new IllegalArgumentException("CPUID table of " + cpuid.length + " words");
            }
            blobs = List.copyOf(blobs);
        }

        public byte[] blob(VcpuStateBlob kind) {
            return blobs.get(kind.ordinal()).clone();
        }
    }

    /** One device's state record, encoded by {@link RecordCodec}; {@code kind} names the record type. */
    public record DeviceState(String name, String kind, byte[] state) {
    }

    /** What the memory file holds. */
    public enum Type { FULL, DIFF }

    /**
     * @param bytes      the guest's RAM, which is the memory file's exact size
     * @param dirtyPages for {@link Type#DIFF}: pairs of (first page, page count) written since the previous
     *                   snapshot, the only pages the (sparse) memory file holds; empty for {@link Type#FULL}
     */
    public record Memory(Type type, long bytes, long[] dirtyPages) {
        public Memory {
            if (dirtyPages.length % 2 != 0) {
                throw new IllegalArgumentException("dirty page list of odd length");
            }
            if (type == Type.FULL && dirtyPages.length != 0) {
                throw new IllegalArgumentException("a full snapshot with a dirty page list");
            }
            long pages = bytes / 4096;
            for (int i = 0; i < dirtyPages.length; i += 2) {
                if (dirtyPages[i] < 0 || dirtyPages[i + 1] <= 0 || dirtyPages[i + 1] > pages - dirtyPages[i]) {
                    throw new IllegalArgumentException("dirty pages " + dirtyPages[i] + "+" + dirtyPages[i + 1]
                            + " lie outside the guest's " + pages + " pages");
                }
            }
            dirtyPages = dirtyPages.clone();
        }
    }
}
