package vessel.vmm;

import java.lang.foreign.MemorySegment;
import java.util.List;

import vessel.boot.firmware.FirmwareImage;
import vessel.devices.Bus;
import vessel.devices.BusDevice;
import vessel.devices.pci.I440fxHostBridge;
import vessel.kvm.KvmException;
import vessel.kvm.UserMemoryRegion;
import vessel.kvm.VmFd;
import vessel.memory.GuestMemory;
import vessel.memory.MemoryRegion;

/**
 * The guest-physical map of a firmware boot, as QEMU's {@code pc} machine builds it: the ROM read-only
 * at the top of 4 GiB, and the BIOS area 0xE0000-0xFFFFF showing either the ROM's tail or the RAM
 * beneath it, segment by segment, as the host bridge's PAM registers say. Reset leaves every PAM
 * register 0, so the ROM shows; SeaBIOS then switches the segments to RAM, copies itself there from
 * the high ROM, and at the end of POST makes the F segment read-only RAM.
 *
 * <p>Each view is a KVM memory slot: the ROM and read-only RAM with {@code KVM_MEM_READONLY}, whose
 * writes exit as MMIO and are dropped by a device on the MMIO bus, as a ROM ignores them. The low RAM
 * region is therefore not one slot here but two, below 0xE0000 and from 1 MiB; the VGA hole and the
 * option-ROM segments (0xA0000-0xDFFFF) stay plain RAM (no VGA, and SeaBIOS writes option ROMs there
 * only after making it writable).
 */
final class FirmwareMemory implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("vessel.vmm");
    /** Slots after guest RAM's (0 and 1). */
    static final int LOW_RAM_ABOVE_1M_SLOT = 8;
    static final int ROM_SLOT = 9;
    static final int FIRST_SEGMENT_SLOT = 10;
    static final long BIOS_AREA = 0xe0000;
    static final long ONE_MIB = 0x100000;

    /** What a segment of the BIOS area shows. */
    enum View { ROM, RAM, RAM_READ_ONLY, NOTHING }

    /** A PAM-controlled segment: four of 16 KiB (0xE0000-0xEFFFF), then the 64 KiB F segment. */
    record Segment(long base, long size) { }

    static final List<Segment> SEGMENTS = List.of(new Segment(0xe0000, 0x4000), new Segment(0xe4000, 0x4000),
            new Segment(0xe8000, 0x4000), new Segment(0xec000, 0x4000), new Segment(0xf0000, 0x10000));

    private final VmFd vm;
    private final MemorySegment lowRam;
    private final GuestMemory rom;
    private final FirmwareImage image;
    private final View[] views = new View[SEGMENTS.size()];
    private long remaps;

    private FirmwareMemory(VmFd vm, MemorySegment lowRam, GuestMemory rom, FirmwareImage image) {
        this.vm = vm;
        this.lowRam = lowRam;
        this.rom = rom;
        this.image = image;
    }

    /**
     * Maps guest RAM's first region around the BIOS area and the ROM (slot 0 must not be mapped yet),
     * and puts the write-dropping device on {@code mmio}. The ROM's host memory is owned by the result.
     */
    static FirmwareMemory map(VmFd vm, GuestMemory ram, FirmwareImage image, Bus mmio) throws KvmException,
            vessel.sys.SysException {
        MemoryRegion low = ram.regions().getFirst();
        if (low.guestBase() != 0 || low.guestEnd() <= ONE_MIB) {
            throw new IllegalArgumentException("firmware needs RAM from 0 to beyond 1 MiB");
        }
        GuestMemory rom = GuestMemory.allocate(List.of(new GuestMemory.Range(image.base(), image.size())));
        try {
            rom.write(image.base(), image.rom());
            FirmwareMemory m = new FirmwareMemory(vm, low.host(), rom, image);
            vm.setUserMemoryRegion(low.slot(), 0, low.host().asSlice(0, BIOS_AREA), 0);
            vm.setUserMemoryRegion(LOW_RAM_ABOVE_1M_SLOT, ONE_MIB,
                    low.host().asSlice(ONE_MIB, low.size() - ONE_MIB), 0);
            vm.setUserMemoryRegion(ROM_SLOT, image.base(), rom.regions().getFirst().host(), UserMemoryRegion.READONLY);
            for (int i = 0; i < SEGMENTS.size(); i++) {
                m.views[i] = View.NOTHING;
                m.show(i, View.ROM);
            }
            mmio.insert(BIOS_AREA, ONE_MIB - BIOS_AREA, "bios-area", RomWrites.INSTANCE);
            mmio.insert(image.base(), image.size(), "firmware-rom", RomWrites.INSTANCE);
            return m;
        } catch (KvmException | RuntimeException e) {
            rom.close();
            throw e;
        }
    }

    /** The host bridge's PAM registers changed: show each segment as they now say. */
    void pamChanged(int[] pam) {
        long t0 = System.nanoTime();
        long before = remaps;
        for (int i = 0; i < SEGMENTS.size(); i++) {
            int bits = I440fxHostBridge.pamBits(pam, SEGMENTS.get(i).base());
            // Read-enable picks RAM; without it reads (and here writes too) go to the ROM. Write-only RAM
            // (reads from ROM, writes to RAM) is a mode no firmware for this machine uses; it shows the ROM.
            View want = (bits & 1) == 0 ? View.ROM : (bits & 2) != 0 ? View.RAM : View.RAM_READ_ONLY;
            try {
                show(i, want);
            } catch (KvmException e) {
                LOG.log(System.Logger.Level.WARNING, "BIOS area segment at 0x" + Long.toHexString(SEGMENTS.get(i).base())
                        + " not remapped: " + e.getMessage());
            }
        }
        if (remaps != before) {
            LOG.log(System.Logger.Level.DEBUG, () -> String.format("BIOS area remapped (%d slot changes, %d us): %s",
                    remaps - before, (System.nanoTime() - t0) / 1000, java.util.Arrays.toString(views)));
        }
    }

    private void show(int index, View want) throws KvmException {
        if (views[index] == want) {
            return;
        }
        Segment s = SEGMENTS.get(index);
        int slot = FIRST_SEGMENT_SLOT + index;
        if (views[index] != View.NOTHING) {
            // KVM changes neither a slot's host memory nor its read-only flag in place: delete, then add.
            vm.setUserMemoryRegion(slot, s.base(), MemorySegment.NULL, 0);
        }
        views[index] = View.NOTHING;
        switch (want) {
            case ROM -> {
                long romOffset = s.base() - (ONE_MIB - image.size());
                if (s.base() >= image.isaBiosBase()) {
                    vm.setUserMemoryRegion(slot, s.base(), rom.regions().getFirst().host().asSlice(romOffset, s.size()),
                            UserMemoryRegion.READONLY);
                }
                // Below a ROM smaller than 128 KiB there is nothing: reads give all-ones (MMIO, unclaimed).
            }
            case RAM -> vm.setUserMemoryRegion(slot, s.base(), lowRam.asSlice(s.base(), s.size()), 0);
            case RAM_READ_ONLY -> vm.setUserMemoryRegion(slot, s.base(), lowRam.asSlice(s.base(), s.size()),
                    UserMemoryRegion.READONLY);
            case NOTHING -> { }
        }
        views[index] = want;
        remaps++;
    }

    View view(int index) {
        return views[index];
    }

    long remaps() {
        return remaps;
    }

    @Override
    public void close() {
        rom.close();
    }

    /** Where a write to ROM or read-only RAM lands: nowhere, as on a PC. */
    enum RomWrites implements BusDevice {
        INSTANCE;

        @Override
        public long read(long offset, int size) {
            return size >= 8 ? -1L : (1L << (8 * size)) - 1;
        }

        @Override
        public void write(long offset, int size, long value) {
            // dropped
        }
    }
}
