package vessel.devices.pci;

import java.lang.foreign.Arena;
import java.util.Arrays;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import vessel.devices.Bus;
import vessel.devices.virtio.VirtioRng;
import vessel.memory.GuestMemory;
import vessel.testkit.TestMemory;

/**
 * PCI configuration space and the virtio-pci function behind it, under any sequence of configuration
 * cycles (0xCF8/0xCFC and ECAM) and BAR accesses the guest can make: nothing may throw at the vCPU, a read
 * is never wider than the access, and MSI-X never signals a masked or nonexistent vector.
 */
class PciFuzzTest {
    private static final long ECAM = 0xE000_0000L;
    private static final int MAX_ACCESSES = 128;
    private static final GuestMemory MEMORY = TestMemory.of(Arena.ofAuto(), 256 * 1024);

    @FuzzTest(maxDuration = "5s")
    void configAndBars(FuzzedDataProvider data) {
        Bus mmio = new Bus("MMIO");
        Bus pio = new Bus("PIO");
        PciRoot root = new PciRoot(mmio, pio, (f, bar, from, to) -> { });
        MsiXTable.MsiSink sink = new MsiXTable.MsiSink() {
            @Override
            public void route(int vector, long address, int data) {
                checkVector(vector);
            }

            @Override
            public void signal(int vector) {
                checkVector(vector);
            }
        };
        VirtioPciFunction rng = new VirtioPciFunction("rng", new VirtioRng(dst -> Arrays.fill(dst, (byte) 1)), MEMORY,
                sink, asserted -> { });
        root.add(1, rng); // the root has put the host bridge in slot 0
        pio.insert(PciConfigIo.PORT, PciConfigIo.LENGTH, "pci-config-io", new PciConfigIo(root));
        mmio.insert(ECAM, PciEcam.BUS_SIZE, "pci-ecam", new PciEcam(root));
        for (int i = 0; i < MAX_ACCESSES && data.remainingBytes() > 0; i++) {
            int size = 1 << data.consumeInt(0, 3);
            switch (data.consumeInt(0, 6)) {
                case 0 -> pio.write(PciConfigIo.PORT + data.consumeInt(0, 7), Math.min(size, 4), data.consumeLong());
                case 1 -> checkWidth(pio.read(PciConfigIo.PORT + data.consumeInt(0, 7), Math.min(size, 4)), Math.min(size, 4));
                case 2 -> mmio.write(ECAM + data.consumeLong(0, PciEcam.BUS_SIZE - size), size, data.consumeLong());
                case 3 -> checkWidth(mmio.read(ECAM + data.consumeLong(0, PciEcam.BUS_SIZE - size), size), size);
                case 4 -> {
                    // place BAR0 (64-bit) where the guest wants it and turn memory decoding on
                    long address = data.consumeLong() & ~(VirtioPciFunction.BAR_SIZE - 1);
                    long f1 = ECAM + (1L << 15);
                    mmio.write(f1 + PciConfigSpace.BAR0, 4, address & 0xFFFF_FFFFL);
                    mmio.write(f1 + PciConfigSpace.BAR0 + 4, 4, address >>> 32);
                    mmio.write(f1 + PciConfigSpace.COMMAND, 2, data.consumeInt(0, 7));
                }
                case 5 -> mmio.write(rng.config().barAddress(0) + data.consumeLong(0, VirtioPciFunction.BAR_SIZE - size),
                        size, data.consumeLong());
                default -> checkWidth(mmio.read(rng.config().barAddress(0)
                        + data.consumeLong(0, VirtioPciFunction.BAR_SIZE - size), size), size);
            }
        }
    }

    /**
     * bochs-display's registers and video memory BAR under fuzzed accesses (any offset and width): no
     * exception, and whatever mode the guest managed to enable lies wholly inside the video memory.
     */
    @FuzzTest(maxDuration = "5s")
    void bochsRegisters(FuzzedDataProvider data) {
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            vessel.devices.display.BochsDisplay dev = new vessel.devices.display.BochsDisplay("bochs",
                    arena.allocate(1 << 20, 4096), pages -> true);
            vessel.devices.BusDevice regs = dev.barDevice(vessel.devices.display.BochsDisplay.MMIO_BAR);
            vessel.devices.BusDevice vram = dev.barDevice(vessel.devices.display.BochsDisplay.FRAMEBUFFER_BAR);
            long[] pages = new long[4];
            for (int i = 0; i < MAX_ACCESSES && data.remainingBytes() > 0; i++) {
                int size = 1 << data.consumeInt(0, 3);
                // Mostly the dispi window, where the state is.
                long offset = data.consumeBoolean() ? 0x500 + data.consumeInt(0, 24) & ~1L
                        : data.consumeLong(0, vessel.devices.display.BochsDisplay.MMIO_SIZE - size);
                switch (data.consumeInt(0, 3)) {
                    case 0 -> regs.write(Math.min(offset, 4096 - size), size, data.consumeInt(0, 0xffff));
                    case 1 -> checkWidth(regs.read(Math.min(offset, 4096 - size), size), size);
                    case 2 -> vram.write(data.consumeLong(0, (1 << 20) - size), size, data.consumeLong());
                    default -> dev.takeDirtyPages(pages);
                }
                vessel.devices.display.DisplayMode mode = dev.mode();
                if (mode != null && dev.framebuffer().byteSize() < mode.size()) {
                    throw new AssertionError("mode " + mode + " runs past the video memory");
                }
            }
        }
    }

    /** The table's own MSI-X rules, driven directly: masks, pending bits and the function mask. */
    @FuzzTest(maxDuration = "5s")
    void msixTable(FuzzedDataProvider data) {
        int vectors = data.consumeInt(1, 64);
        PciConfigSpace space = new PciConfigSpace(0x1af4, 0x1044, 0xff0000, 1, 0x1af4, 0x1100);
        MsiXTable[] table = new MsiXTable[1];
        int control = 0;
        table[0] = new MsiXTable(vectors, new MsiXTable.MsiSink() {
            @Override
            public void route(int vector, long address, int data) {
                if (vector < 0 || vector >= vectors) {
                    throw new AssertionError("route of vector " + vector + " of " + vectors);
                }
            }

            @Override
            public void signal(int vector) {
                if (vector < 0 || vector >= vectors) {
                    throw new AssertionError("signal of vector " + vector + " of " + vectors);
                }
                if ((table[0].readTable(16L * vector + 12, 4) & 1) != 0) {
                    throw new AssertionError("signal of masked vector " + vector);
                }
                if ((space.read(table[0].capabilityOffset() + 2, 2) & 0x4000) != 0) {
                    throw new AssertionError("signal of vector " + vector + " under the function mask");
                }
            }
        });
        table[0].addCapability(space, 0, 0, 0x800);
        control = table[0].capabilityOffset() + 2;
        for (int i = 0; i < MAX_ACCESSES && data.remainingBytes() > 0; i++) {
            int size = data.consumeBoolean() ? 4 : 8;
            switch (data.consumeInt(0, 4)) {
                case 0 -> table[0].writeTable(data.consumeLong(0, 16L * vectors - size) & ~(size - 1), size,
                        data.consumeLong());
                case 1 -> checkWidth(table[0].readTable(data.consumeLong(0, 16L * vectors - size) & ~(size - 1),
                        size), size);
                case 2 -> checkWidth(table[0].readPba(8L * data.consumeInt(0, (vectors - 1) / 64), 8), 8);
                case 3 -> {
                    space.write(control, 2, data.consumeInt(0, 0xFFFF));
                    table[0].controlWritten();
                }
                default -> table[0].signal(data.consumeInt(-1, vectors));
            }
        }
    }

    private static void checkVector(int vector) {
        if (vector < 0 || vector > 1) {
            throw new AssertionError("MSI-X vector " + vector + " of a function with 2");
        }
    }

    private static void checkWidth(long v, int size) {
        if (size < 8 && (v & ~((1L << (8 * size)) - 1)) != 0) {
            throw new AssertionError("a " + size + "-byte read gave 0x" + Long.toHexString(v));
        }
    }
}
