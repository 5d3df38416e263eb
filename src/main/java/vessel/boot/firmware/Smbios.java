package vessel.boot.firmware;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The SMBIOS tables (DMTF DSP0134, 2.8) as QEMU hands them to SeaBIOS through fw_cfg: the structures
 * in {@code etc/smbios/smbios-tables} and a 2.1-style entry point in {@code etc/smbios/smbios-anchor}, whose
 * table address SeaBIOS fills in when it copies the tables into memory (src/fw/biostables.c,
 * smbios_romfile_setup). They say what the machine is ({@code dmidecode}, Linux's /sys/class/dmi/id):
 * the system (type 1) and chassis (3) are Vessel's, one processor (4) per vCPU, the RAM as one array
 * (16) of DIMMs of at most 16 GiB (17) mapped at the guest's RAM ranges (19), a clean boot (32), the end
 * (127). Type 0, the BIOS's own, is left to the firmware, as QEMU leaves it: SeaBIOS adds one with its
 * name and version when the tables have none.
 *
 * @param anchor the entry point, 31 bytes
 * @param tables the structures, each with its strings, ending with type 127
 */
public record Smbios(byte[] anchor, byte[] tables) {
    public static final String ANCHOR_FILE = "etc/smbios/smbios-anchor";
    public static final String TABLES_FILE = "etc/smbios/smbios-tables";

    /** A range of guest RAM, as the memory map reports it. */
    public record RamRange(long start, long size) {
        public RamRange {
            if (start < 0 || size <= 0) {
                throw new IllegalArgumentException("bad RAM range at 0x" + Long.toHexString(start) + ", size " + size);
            }
        }
    }

    public static final String MANUFACTURER = "Vessel";
    public static final String PRODUCT = "Vessel VM";
    /** What QEMU puts in the version fields: the machine's shape. */
    public static final String MACHINE = "pc-i440fx";

    static final int ANCHOR_LENGTH = 31;
    static final int MAJOR = 2;
    static final int MINOR = 8;
    /** Handles as QEMU numbers them: the type in the high byte, an index in the low. */
    static final int HANDLE_SYSTEM = 0x100;
    static final int HANDLE_CHASSIS = 0x300;
    static final int HANDLE_PROCESSOR = 0x400;
    static final int HANDLE_MEMORY_ARRAY = 0x1000;
    static final int HANDLE_MEMORY_DEVICE = 0x1100;
    static final int HANDLE_MAPPED_ADDRESS = 0x1300;
    static final int HANDLE_BOOT = 0x2000;
    static final int HANDLE_END = 0x7f00;
    /** A DIMM holds at most this much, as QEMU splits RAM. */
    static final long DIMM_MAX = 16L << 30;
    /** Handles are 16 bits with 0xFFxx reserved; a type's index fits its low byte. */
    static final int MAX_CPUS = 255;
    static final int MAX_RANGES = 255;
    static final int NO_HANDLE = 0xfffe;
    static final int UNKNOWN_HANDLE = 0xffff;
    static final long MAX_KIB_FIELD = 0xffff_ffffL;

    /**
     * The tables for {@code cpus} vCPUs and the given RAM ranges (the memory map's RAM entries),
     * with {@code uuid} (16 bytes, SMBIOS byte order) as the system's.
     */
    public static Smbios build(int cpus, List<RamRange> ram, byte[] uuid) {
        if (cpus < 1 || cpus > MAX_CPUS) {
            throw new IllegalArgumentException("SMBIOS describes 1 to " + MAX_CPUS + " CPUs here, not " + cpus);
        }
        if (ram.isEmpty() || ram.size() > MAX_RANGES) {
            throw new IllegalArgumentException("SMBIOS needs 1 to " + MAX_RANGES + " RAM ranges, not " + ram.size());
        }
        if (uuid.length != 16) {
            throw new IllegalArgumentException("a UUID is 16 bytes, not " + uuid.length);
        }
        long total = 0;
        for (RamRange r : ram) {
            total = Math.addExact(total, r.size());
        }
        List<byte[]> structures = new ArrayList<>();
        structures.add(system(uuid));
        structures.add(chassis());
        for (int cpu = 0; cpu < cpus; cpu++) {
            structures.add(processor(cpu));
        }
        int dimms = (int) ((total + DIMM_MAX - 1) / DIMM_MAX);
        structures.add(memoryArray(total, dimms));
        long left = total;
        for (int i = 0; i < dimms; i++) {
            long size = Math.min(left, DIMM_MAX);
            structures.add(memoryDevice(i, size));
            left -= size;
        }
        for (int i = 0; i < ram.size(); i++) {
            structures.add(mappedAddress(i, ram.get(i)));
        }
        structures.add(bootInformation());
        structures.add(new Structure(127, HANDLE_END, 4).toBytes());

        ByteArrayOutputStream all = new ByteArrayOutputStream();
        int largest = 0;
        for (byte[] s : structures) {
            all.writeBytes(s);
            largest = Math.max(largest, s.length);
        }
        byte[] tables = all.toByteArray();
        if (tables.length > 0xffff) {
            throw new IllegalArgumentException("SMBIOS tables of " + tables.length + " bytes exceed the entry point's 16-bit length");
        }
        return new Smbios(anchor(tables.length, structures.size(), largest), tables);
    }

    /**
     * The SMBIOS 2.1 entry point ({@code _SM_} ... {@code _DMI_}), table address 0; both checksums right
     * as it stands (SeaBIOS redoes them once it has set the address).
     */
    static byte[] anchor(int tablesLength, int count, int largest) {
        byte[] a = new byte[ANCHOR_LENGTH];
        put(a, 0, "_SM_".getBytes(StandardCharsets.US_ASCII));
        a[5] = ANCHOR_LENGTH;
        a[6] = MAJOR;
        a[7] = MINOR;
        putLe(a, 8, largest, 2);
        // 10: entry point revision 0; 11-15: formatted area, zero
        put(a, 16, "_DMI_".getBytes(StandardCharsets.US_ASCII));
        putLe(a, 22, tablesLength, 2);
        // 24: structure table address, set by the firmware
        putLe(a, 28, count, 2);
        a[30] = (byte) (MAJOR << 4 | MINOR); // BCD revision
        a[21] = (byte) -sum(a, 16, ANCHOR_LENGTH); // intermediate checksum, over bytes 16..30
        a[4] = (byte) -sum(a, 0, 16);
        return a;
    }

    /** Type 1, System Information (27 bytes). */
    static byte[] system(byte[] uuid) {
        Structure s = new Structure(1, HANDLE_SYSTEM, 27);
        s.string(4, MANUFACTURER);
        s.string(5, PRODUCT);
        s.string(6, MACHINE);
        // 7: serial number, none
        s.bytes(8, uuid);
        s.u8(24, 6); // wake-up type: power switch
        // 25: SKU number, none
        s.string(26, "Virtual Machine");
        return s.toBytes();
    }

    /** Type 3, System Enclosure or Chassis (22 bytes, no contained elements). */
    static byte[] chassis() {
        Structure s = new Structure(3, HANDLE_CHASSIS, 22);
        s.string(4, MANUFACTURER);
        s.u8(5, 1); // type: other
        s.string(6, MACHINE);
        s.u8(9, 3).u8(10, 3).u8(11, 3); // boot-up, power supply and thermal state: safe
        s.u8(12, 2); // security status: unknown
        return s.toBytes();
    }

    /** Type 4, Processor Information (42 bytes: SMBIOS 2.6's layout), one socket per vCPU as QEMU has it. */
    static byte[] processor(int cpu) {
        Structure s = new Structure(4, HANDLE_PROCESSOR + cpu, 42);
        s.string(4, "CPU " + cpu);
        s.u8(5, 3); // processor type: central processor
        s.u8(6, 0xfe); // family: see family 2
        s.string(7, MANUFACTURER);
        // 8: processor ID (CPUID 1 EAX, EDX): 0, the vCPU's own CPUID says it
        s.string(16, MACHINE);
        s.u16(20, 2000); // max speed, MHz: QEMU's default
        s.u16(22, 2000); // current speed
        s.u8(24, 0x41); // socket populated, CPU enabled
        s.u8(25, 1); // upgrade: other
        s.u16(26, UNKNOWN_HANDLE).u16(28, UNKNOWN_HANDLE).u16(30, UNKNOWN_HANDLE); // L1-L3 caches: not described
        s.u8(35, 1).u8(36, 1).u8(37, 1); // cores, cores enabled, threads
        s.u16(38, 0x02); // characteristics: unknown
        s.u16(40, 0x01); // family 2: other
        return s.toBytes();
    }

    /** Type 16, Physical Memory Array (23 bytes). */
    static byte[] memoryArray(long totalBytes, int dimms) {
        Structure s = new Structure(16, HANDLE_MEMORY_ARRAY, 23);
        s.u8(4, 1); // location: other
        s.u8(5, 3); // use: system memory
        s.u8(6, 6); // error correction: multi-bit ECC, as QEMU says
        long kib = totalBytes >>> 10;
        if (kib < 0x8000_0000L) {
            s.u32(7, kib);
        } else {
            s.u32(7, 0x8000_0000L).u64(15, totalBytes); // too big for KiB: the extended field, in bytes
        }
        s.u16(11, NO_HANDLE); // memory error information: not provided
        s.u16(13, dimms);
        return s.toBytes();
    }

    /** Type 17, Memory Device (40 bytes: SMBIOS 2.8's layout). */
    static byte[] memoryDevice(int index, long bytes) {
        Structure s = new Structure(17, HANDLE_MEMORY_DEVICE + index, 40);
        s.u16(4, HANDLE_MEMORY_ARRAY);
        s.u16(6, NO_HANDLE);
        s.u16(8, UNKNOWN_HANDLE).u16(10, UNKNOWN_HANDLE); // total and data width: unknown
        s.u16(12, (int) (bytes >>> 20)); // size in MiB: at most 16384, so no extended size
        s.u8(14, 0x09); // form factor: DIMM
        s.string(16, "DIMM " + index);
        s.u8(18, 0x07); // memory type: RAM
        s.u16(19, 0x02); // type detail: other
        s.string(23, MANUFACTURER);
        return s.toBytes();
    }

    /** Type 19, Memory Array Mapped Address (31 bytes): where one RAM range is. */
    static byte[] mappedAddress(int index, RamRange range) {
        Structure s = new Structure(19, HANDLE_MAPPED_ADDRESS + index, 31);
        long end = range.start() + range.size() - 1;
        if ((end >>> 10) < MAX_KIB_FIELD) {
            s.u32(4, range.start() >>> 10).u32(8, end >>> 10);
        } else {
            s.u32(4, MAX_KIB_FIELD).u32(8, MAX_KIB_FIELD).u64(15, range.start()).u64(23, end);
        }
        s.u16(12, HANDLE_MEMORY_ARRAY);
        s.u8(14, 1); // partition width
        return s.toBytes();
    }

    /** Type 32, System Boot Information (11 bytes): no errors detected. */
    static byte[] bootInformation() {
        return new Structure(32, HANDLE_BOOT, 11).toBytes();
    }

    /** One structure: its formatted area, then its strings (numbered from 1), then a double NUL. */
    private static final class Structure {
        private final byte[] formatted;
        private final List<String> strings = new ArrayList<>();

        Structure(int type, int handle, int length) {
            formatted = new byte[length];
            formatted[0] = (byte) type;
            formatted[1] = (byte) length;
            putLe(formatted, 2, handle, 2);
        }

        Structure u8(int at, int value) {
            formatted[at] = (byte) value;
            return this;
        }

        Structure u16(int at, int value) {
            putLe(formatted, at, value, 2);
            return this;
        }

        Structure u32(int at, long value) {
            putLe(formatted, at, value, 4);
            return this;
        }

        Structure u64(int at, long value) {
            putLe(formatted, at, value, 8);
            return this;
        }

        Structure bytes(int at, byte[] value) {
            put(formatted, at, value);
            return this;
        }

        /** Sets the string field at {@code at} to {@code value}, added to the string set. */
        Structure string(int at, String value) {
            if (value.isEmpty() || value.indexOf('\0') >= 0) {
                throw new IllegalArgumentException("an SMBIOS string is non-empty and has no NUL: '" + value + "'");
            }
            strings.add(value);
            formatted[at] = (byte) strings.size();
            return this;
        }

        byte[] toBytes() {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            out.writeBytes(formatted);
            for (String s : strings) {
                out.writeBytes(s.getBytes(StandardCharsets.US_ASCII));
                out.write(0);
            }
            if (strings.isEmpty()) {
                out.write(0); // an empty string set is still two NULs
            }
            out.write(0);
            return out.toByteArray();
        }
    }

    private static void put(byte[] into, int at, byte[] value) {
        System.arraycopy(value, 0, into, at, value.length);
    }

    private static void putLe(byte[] into, int at, long value, int size) {
        for (int i = 0; i < size; i++) {
            into[at + i] = (byte) (value >>> (8 * i));
        }
    }

    private static int sum(byte[] b, int from, int to) {
        int s = 0;
        for (int i = from; i < to; i++) {
            s += b[i];
        }
        return s & 0xff;
    }
}
