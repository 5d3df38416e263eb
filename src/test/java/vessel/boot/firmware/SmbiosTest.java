package vessel.boot.firmware;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The SMBIOS tables read back as dmidecode and SeaBIOS read them: entry point, then structure by structure. */
class SmbiosTest {
    /** One structure: type, handle, formatted area and its strings. */
    record Parsed(int type, int handle, ByteBuffer formatted, List<String> strings) {
        String string(int field) {
            int n = formatted.get(field) & 0xff;
            return n == 0 ? null : strings.get(n - 1);
        }
    }

    /** Walks the structures as dmidecode does; every step is bounded by the table's length. */
    static List<Parsed> parse(byte[] tables) {
        List<Parsed> out = new ArrayList<>();
        int at = 0;
        while (at < tables.length) {
            assertTrue(at + 4 <= tables.length, "header inside the table at " + at);
            int length = tables[at + 1] & 0xff;
            assertTrue(length >= 4 && at + length <= tables.length, "formatted area inside the table at " + at);
            ByteBuffer formatted = ByteBuffer.wrap(tables, at, length).slice().order(ByteOrder.LITTLE_ENDIAN);
            List<String> strings = new ArrayList<>();
            int s = at + length;
            if (tables[s] == 0) {
                s++; // an empty string set: two NULs
            } else {
                while (tables[s] != 0) {
                    int end = s;
                    while (tables[end] != 0) {
                        end++;
                    }
                    strings.add(new String(tables, s, end - s, StandardCharsets.US_ASCII));
                    s = end + 1;
                }
            }
            assertEquals(0, tables[s], "string set ends with a second NUL");
            out.add(new Parsed(tables[at] & 0xff, formatted.getShort(2) & 0xffff, formatted, strings));
            at = s + 1;
        }
        return out;
    }

    private static int sum(byte[] b, int from, int to) {
        int s = 0;
        for (int i = from; i < to; i++) {
            s += b[i];
        }
        return s & 0xff;
    }

    private static final List<Smbios.RamRange> RAM = List.of(
            new Smbios.RamRange(0, 3L << 30), new Smbios.RamRange(1L << 32, 17L << 30));

    @Test
    void entryPointHasBothChecksumsAndDescribesTheTable() {
        Smbios smbios = Smbios.build(2, RAM, new byte[16]);
        byte[] a = smbios.anchor();
        assertEquals(31, a.length, "SeaBIOS takes the anchor only at the size of its smbios_21_entry_point");
        assertEquals("_SM_", new String(a, 0, 4, StandardCharsets.US_ASCII));
        assertEquals("_DMI_", new String(a, 16, 5, StandardCharsets.US_ASCII));
        assertEquals(0, sum(a, 0, 16));
        assertEquals(0, sum(a, 16, 31));
        ByteBuffer b = ByteBuffer.wrap(a).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(2, a[6]);
        assertEquals(8, a[7]);
        assertEquals(smbios.tables().length, b.getShort(22) & 0xffff, "table length: SeaBIOS checks the file against it");
        List<Parsed> structures = parse(smbios.tables());
        assertEquals(structures.size(), b.getShort(28) & 0xffff);
        int largest = 0;
        for (int i = 0, at = 0; i < structures.size(); i++) {
            int next = i + 1 < structures.size() ? indexOf(smbios.tables(), structures, i + 1) : smbios.tables().length;
            largest = Math.max(largest, next - at);
            at = next;
        }
        assertEquals(largest, b.getShort(8) & 0xffff, "the largest structure, strings included");
    }

    /** Where structure {@code i} starts: after the ones before it. */
    private static int indexOf(byte[] tables, List<Parsed> structures, int i) {
        int at = 0;
        for (int k = 0; k < i; k++) {
            at += structures.get(k).formatted().limit();
            int strings = structures.get(k).strings().stream().mapToInt(s -> s.length() + 1).sum();
            at += Math.max(strings, 1) + 1;
        }
        return at;
    }

    @Test
    void structuresAreQemusSetWithVesselAsTheSystem() {
        List<Parsed> s = parse(Smbios.build(2, RAM, new byte[16]).tables());
        assertEquals(List.of(1, 3, 4, 4, 16, 17, 17, 19, 19, 32, 127), s.stream().map(Parsed::type).toList(),
                "type 0 is the firmware's own (SeaBIOS adds it)");
        assertEquals(s.size(), s.stream().map(Parsed::handle).distinct().count(), "handles are unique");

        Parsed system = s.get(0);
        assertEquals(27, system.formatted().limit());
        assertEquals("Vessel", system.string(4), "what /sys/class/dmi/id/sys_vendor shows");
        assertEquals("Vessel VM", system.string(5));
        Parsed chassis = s.get(1);
        assertEquals("Vessel", chassis.string(4));
        assertEquals("CPU 0", s.get(2).string(4));
        assertEquals("CPU 1", s.get(3).string(4));
        assertEquals(0x41, s.get(2).formatted().get(24) & 0xff, "populated and enabled");

        Parsed array = s.get(4);
        assertEquals(20L << 20, array.formatted().getInt(7) & 0xffffffffL, "20 GiB in KiB");
        assertEquals(2, array.formatted().getShort(13));
        assertEquals(16384, s.get(5).formatted().getShort(12), "16 GiB DIMM, in MiB");
        assertEquals(4096, s.get(6).formatted().getShort(12), "the rest");
        assertEquals(0x1000, s.get(5).formatted().getShort(4), "the DIMMs belong to the array");

        Parsed low = s.get(7);
        assertEquals(0, low.formatted().getInt(4));
        assertEquals((3L << 20) - 1, low.formatted().getInt(8) & 0xffffffffL, "last KiB of the low range");
        Parsed high = s.get(8);
        assertEquals(4L << 20, high.formatted().getInt(4) & 0xffffffffL);
        assertEquals((21L << 20) - 1, high.formatted().getInt(8) & 0xffffffffL);
        assertEquals(4, s.get(10).formatted().limit(), "type 127 ends the table");
    }

    @Test
    void badInputIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> Smbios.build(0, RAM, new byte[16]));
        assertThrows(IllegalArgumentException.class, () -> Smbios.build(256, RAM, new byte[16]));
        assertThrows(IllegalArgumentException.class, () -> Smbios.build(1, List.of(), new byte[16]));
        assertThrows(IllegalArgumentException.class, () -> Smbios.build(1, RAM, new byte[15]));
        assertThrows(IllegalArgumentException.class, () -> new Smbios.RamRange(0, 0));
    }
}
