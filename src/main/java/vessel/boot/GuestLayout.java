package vessel.boot;

import java.util.ArrayList;
import java.util.List;

import vessel.memory.GuestMemory;

/**
 * Where things live in an x86 guest's physical address space. RAM runs from 0 up to the 32-bit MMIO
 * hole (3 GiB, where PCI BARs, the IOAPIC and local APIC go) and continues at 4 GiB.
 */
public final class GuestLayout {
    /** GDT for VMM-built entry states. */
    public static final long GDT = 0x500;
    /** Identity-map page tables for long-mode entry: PML4, PDPT, then four page directories. */
    public static final long PML4 = 0x1000;
    public static final long PDPT = 0x2000;
    public static final long PAGE_DIRECTORIES = 0x3000;
    /** Initial stack pointer for flat entries; the stack grows down towards the page tables. */
    public static final long STACK_TOP = 0xfff0;
    /** Where flat binaries are loaded and entered. */
    public static final long FLAT_LOAD_ADDRESS = 0x10000;
    /** Conventional memory ends at the extended BIOS data area. */
    public static final long EBDA_START = 0x9fc00;
    public static final long LEGACY_HOLE_START = 0xa0000;
    /**
     * The BIOS area, reserved up to 1 MiB. Its first 64 KiB hold the ACPI tables: Linux scans
     * 0xE0000-0xFFFFF for the RSDP when the boot protocol does not hand it over.
     */
    public static final long BIOS_AREA_START = 0xe0000;
    public static final long ACPI_TABLES = BIOS_AREA_START;
    public static final long HIGH_MEMORY = 0x100000;
    /** The VM generation ID's 16 bytes: the BIOS area's last page, above the ACPI tables, reserved in E820. */
    public static final long VMGENID = 0xff000;
    /**
     * The ISA interrupt whose edge makes the guest re-read the generation ID (through the ACPI Generic Event
     * Device, VmGenIdAml): one no legacy device of ours uses (COM1 4, i8042 1 and 12, RTC 8, SCI 9, PIT 0).
     */
    public static final int VMGENID_NOTIFY_IRQ = 5;
    public static final long MMIO_HOLE_START = 0xc000_0000L;
    public static final long FOUR_GIB = 0x1_0000_0000L;
    /** 32-bit PCI BARs go from the start of the MMIO hole up to the ECAM window. */
    public static final long PCI_MMIO32_START = MMIO_HOLE_START;
    /** PCI configuration space for bus 0 (1 MiB), memory mapped; the MCFG table points here. */
    public static final long PCI_ECAM = 0xe000_0000L;
    public static final long PCI_ECAM_SIZE = 1L << 20;
    /**
     * The boot framebuffer (screen_info's linear framebuffer): its own memory slot in the hole, above ECAM
     * and outside the PCI host bridge's 32-bit window, so no BAR is ever placed over it. Up to
     * {@link #FRAMEBUFFER_MAX} bytes (8192 x 8192 at 32 bits per pixel), ending well below the IOAPIC.
     */
    public static final long FRAMEBUFFER = 0xe100_0000L;
    public static final long FRAMEBUFFER_MAX = 256L << 20;
    /**
     * The KVM memory slot of the boot framebuffer: after guest RAM's and a firmware boot's (8-14, see
     * vmm.FirmwareMemory); the Bochs adapter's video memory takes the next one.
     */
    public static final int FRAMEBUFFER_SLOT = 16;
    /** The 64-bit BAR window above RAM: 16 GiB keeps it within the 36 physical address bits of old CPUs' pages. */
    public static final long PCI_MMIO64_SIZE = 16L << 30;
    /**
     * virtio-pmem ranges: each in its own KVM slot from this one on (after the Bochs VRAM's 17, room left
     * between), placed from {@link #pmemBase} up, outside RAM, the E820 map and every PCI window.
     */
    public static final int PMEM_FIRST_SLOT = 24;
    /** The most virtio-pmem devices a VM may have (slots {@link #PMEM_FIRST_SLOT} on). */
    public static final int PMEM_MAX = 8;

    /** Where virtio-pmem ranges start for guest RAM ending at {@code ramEnd}: right after the 64-bit PCI window. */
    public static long pmemBase(long ramEnd) {
        return pciMmio64Base(ramEnd) + PCI_MMIO64_SIZE;
    }

    /** KVM's VMX real-mode TSS (three pages) and identity-map page, in the hole just under the BIOS area. */
    public static final long KVM_TSS = 0xfffb_d000L;
    public static final long KVM_IDENTITY_MAP = 0xfffb_c000L;

    private GuestLayout() {}

    /** The guest-physical RAM ranges for {@code ramBytes} of RAM. */
    public static List<GuestMemory.Range> ramRanges(long ramBytes) {
        List<GuestMemory.Range> ranges = new ArrayList<>();
        long low = Math.min(ramBytes, MMIO_HOLE_START);
        ranges.add(new GuestMemory.Range(0, low));
        if (ramBytes > low) {
            ranges.add(new GuestMemory.Range(FOUR_GIB, ramBytes - low));
        }
        return ranges;
    }

    /** Where the 64-bit PCI BAR window starts for guest RAM ending at {@code ramEnd}: above 4 GiB and RAM, 1 GiB-aligned. */
    public static long pciMmio64Base(long ramEnd) {
        long base = Math.max(FOUR_GIB, ramEnd);
        return (base + (1L << 30) - 1) & -(1L << 30);
    }

    /**
     * The alignment of a hot-pluggable (virtio-mem) region's base: Linux adds hot-plugged memory in whole memory
     * blocks (128 MiB on x86-64, up to 2 GiB for guests of 64 GiB and more), so the region starts on the largest.
     */
    public static final long HOTPLUG_ALIGN = 2L << 30;

    /**
     * Where the hot-pluggable region goes for {@code ramBytes} of boot RAM: above RAM and above the 32-bit hole
     * (so never under a 32-bit BAR), on a {@link #HOTPLUG_ALIGN} boundary. The 64-bit BAR window then follows it.
     */
    public static long hotplugBase(long ramBytes) {
        long low = Math.min(ramBytes, MMIO_HOLE_START);
        long ramEnd = ramBytes > low ? FOUR_GIB + (ramBytes - low) : low;
        long base = Math.max(FOUR_GIB, ramEnd);
        return (base + HOTPLUG_ALIGN - 1) & -HOTPLUG_ALIGN;
    }

    /** An entry of the BIOS memory map (e820, and multiboot's mmap). */
    public record MemoryMapEntry(long base, long length, Type type) {
        public enum Type {
            RAM(1), RESERVED(2);

            public final int code;

            Type(int code) {
                this.code = code;
            }
        }
    }

    /** The memory map a firmware would report for this RAM: usable RAM with the legacy holes reserved. */
    public static List<MemoryMapEntry> memoryMap(GuestMemory memory) {
        return memoryMap(memory, List.of());
    }

    /** As {@link #memoryMap(GuestMemory)}, with {@code reserved} (device memory such as a framebuffer) added in order. */
    public static List<MemoryMapEntry> memoryMap(GuestMemory memory, List<MemoryMapEntry> reserved) {
        List<MemoryMapEntry> map = new ArrayList<>();
        long lowEnd = memory.regions().getFirst().guestEnd();
        map.add(new MemoryMapEntry(0, Math.min(EBDA_START, lowEnd), MemoryMapEntry.Type.RAM));
        if (lowEnd > EBDA_START) {
            map.add(new MemoryMapEntry(EBDA_START, LEGACY_HOLE_START - EBDA_START, MemoryMapEntry.Type.RESERVED));
            map.add(new MemoryMapEntry(BIOS_AREA_START, HIGH_MEMORY - BIOS_AREA_START, MemoryMapEntry.Type.RESERVED));
        }
        if (lowEnd > HIGH_MEMORY) {
            map.add(new MemoryMapEntry(HIGH_MEMORY, lowEnd - HIGH_MEMORY, MemoryMapEntry.Type.RAM));
        }
        // Linux uses ECAM only where the firmware reserved it (here and in the ACPI motherboard resources).
        map.add(new MemoryMapEntry(PCI_ECAM, PCI_ECAM_SIZE, MemoryMapEntry.Type.RESERVED));
        for (var r : memory.regions().subList(1, memory.regions().size())) {
            map.add(new MemoryMapEntry(r.guestBase(), r.size(), MemoryMapEntry.Type.RAM));
        }
        map.addAll(reserved);
        map.sort(java.util.Comparator.comparingLong(MemoryMapEntry::base));
        return map;
    }
}
