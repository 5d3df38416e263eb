package vessel.boot.acpi;

import java.io.File;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import vessel.memory.GuestMemory;
import vessel.memory.MemoryRegion;
import vessel.testkit.NativeTools;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * ACPICA, whose table code Linux itself uses, judges the tables: {@code iasl -d} disassembles each one,
 * any error or warning it reports fails the test, and the disassembly must say what the guest needs to
 * find. iasl comes with Debian's acpica-tools, which CI installs: a machine without it fails here
 * rather than skipping, so the tables are never shipped unchecked.
 */
class IaslDisassemblyTest {
    private static final int CPUS = 3;
    /** Warnings and errors as iasl words them on its output, and the markers it leaves in a .dsl. */
    private static final Pattern TROUBLE = Pattern.compile(
            "(?i)\\bwarning\\b|\\berror\\b|incorrect|invalid|\\*\\*\\*\\*|terminates in the middle");
    private static final Pattern COMPILE_SUMMARY = Pattern.compile(
            "Compilation successful\\. 0 Errors, 0 Warnings, 0 Remarks");

    private static String iasl;

    @BeforeAll
    static void findIasl() {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            Path candidate = Path.of(dir, "iasl");
            if (Files.isExecutable(candidate)) {
                iasl = candidate.toString();
                return;
            }
        }
        fail("iasl not found on PATH: install acpica-tools (apt-get install acpica-tools; .ci/run does)");
    }

    /** The tables as AcpiTables lays them out, found in guest memory through the RSDP and XSDT. */
    private static TablesInMemory writtenTables() {
        try (Arena arena = Arena.ofConfined()) {
            GuestMemory memory = GuestMemory.wrap(List.of(new MemoryRegion(0, 0, arena.allocate(1L << 20, 4096))));
            return TablesInMemory.read(memory, AcpiTables.write(memory, 0xe0000, platform()).rsdpAddress());
        }
    }

    /** The platform Vessel gives a Linux guest with PCI devices: the real host bridge AML, _PRT included. */
    private static AcpiPlatform platform() {
        int[] intx = new int[32];
        intx[1] = 16;
        intx[2] = 17;
        Mcfg ecam = new Mcfg(0xe000_0000L, 0, 0);
        PciHostBridgeAml pci = new PciHostBridgeAml(0xc000_0000L, 0xdfff_ffffL, 0x1_0000_0000L,
                0x4_ffff_ffffL, ecam, intx);
        return AcpiPlatform.forCpus(CPUS).withSystemBusDevice(pci.toAml()).withPciEcam(ecam).withSleepStates()
                .withSystemBusDevice(VmGenIdAml.devicesWithNotify(0xff000, 5));
    }

    @Test
    void iaslDisassemblesEveryTableWithoutComplaintAndSeesWhatLinuxNeeds(@TempDir Path dir) throws Exception {
        TablesInMemory written = writtenTables();
        assertEquals(List.of("XSDT", "FACP", "APIC", "MCFG", "DSDT"), List.copyOf(written.tables().keySet()));
        for (String signature : written.tables().keySet()) {
            String name = signature.toLowerCase(Locale.ROOT);
            Files.write(dir.resolve(name + ".dat"), written.bytes(signature));
            String output = run(dir, iasl, "-d", name + ".dat");
            assertNoTrouble(name + ".dat: iasl said", output);
            assertNoTrouble(name + ".dsl", Files.readString(dir.resolve(name + ".dsl")));
        }

        String dsdt = Files.readString(dir.resolve("dsdt.dsl"));
        assertTrue(dsdt.contains("Device (COM1)") && dsdt.contains("EisaId (\"PNP0501\")"), dsdt);
        assertTrue(dsdt.contains("IO (Decode16,\n                    0x03F8,"), dsdt);
        assertTrue(dsdt.contains("IRQNoFlags ()\n                    {4}"), dsdt);
        // Linux's i8042 driver finds the controller through these two (QEMU lists them the same way)
        assertTrue(dsdt.contains("Device (KBD)") && dsdt.contains("EisaId (\"PNP0303\")"), dsdt);
        assertTrue(dsdt.contains("IO (Decode16,\n                    0x0060,") && dsdt.contains("0x0064,"), dsdt);
        assertTrue(dsdt.contains("IRQNoFlags ()\n                    {1}"), dsdt);
        assertTrue(dsdt.contains("Device (MOU)") && dsdt.contains("EisaId (\"PNP0F13\")"), dsdt);
        assertTrue(dsdt.contains("IRQNoFlags ()\n                    {12}"), dsdt);
        assertTrue(Pattern.compile("Name \\(_S3, Package \\(0x04\\)[^{]*\\{\\s*One,\\s*Zero,\\s*Zero,\\s*Zero\\s*}")
                .matcher(dsdt).find(), dsdt);
        assertTrue(Pattern.compile("Name \\(_S5, Package \\(0x04\\)[^{]*\\{\\s*0x05,\\s*Zero,\\s*Zero,\\s*Zero\\s*}")
                .matcher(dsdt).find(), dsdt);
        assertTrue(dsdt.contains("Device (PCI0)") && dsdt.contains("QWordMemory ("), dsdt);
        assertTrue(dsdt.contains("Name (_PRT, Package (0x02)") && dsdt.contains("0x0002FFFF"), dsdt);
        assertTrue(dsdt.contains("EisaId (\"PNP0C02\")") && dsdt.contains("Memory32Fixed (ReadOnly,\n                    0xE0000000,"), dsdt);

        // The VM generation ID, and the Generic Event Device whose interrupt makes Linux re-read it.
        assertTrue(dsdt.contains("Device (VGEN)") && dsdt.contains("Name (_CID, \"VM_Gen_Counter\")"), dsdt);
        assertTrue(dsdt.contains("Device (GED0)") && dsdt.contains("Name (_HID, \"ACPI0013\" /* Generic Event Device */)"), dsdt);
        assertTrue(dsdt.contains("IRQ (Edge, ActiveHigh, Exclusive, )\n                    {5}"), dsdt);
        assertTrue(Pattern.compile("Method \\(_EVT, 1, Serialized\\)[^{]*\\{\\s*If \\(\\(Arg0 == 0x05\\)\\)\\s*\\{\\s*"
                + "Notify \\(\\\\_SB\\.VGEN, 0x80\\)").matcher(dsdt).find(), dsdt);

        String madt = Files.readString(dir.resolve("apic.dsl"));
        assertEquals(CPUS, count(madt, "[Processor Local APIC]"), madt);
        assertEquals(CPUS, count(madt, "Processor Enabled : 1"), madt);
        assertEquals(1, count(madt, "[I/O APIC]"), madt);
        assertTrue(madt.contains("Address : FEC00000"), madt);
        assertTrue(madt.contains("Local Apic Address : FEE00000"), madt);
        assertEquals(2, count(madt, "[Interrupt Source Override]"), madt); // PIT and SCI
        assertEquals(1, count(madt, "[Local APIC NMI]"), madt);

        String fadt = Files.readString(dir.resolve("facp.dsl"));
        assertTrue(fadt.contains("Hardware Reduced (V5) : 0"), fadt);
        assertTrue(fadt.contains("Reset Register Supported (V2) : 1"), fadt);
        assertTrue(fadt.contains("8042 Present on ports 60/64 (V2) : 1"), fadt);
        assertTrue(fadt.contains("VGA Not Present (V4) : 1"), fadt);
        assertTrue(fadt.contains("MSI Not Supported (V4) : 0"), fadt);
        assertTrue(fadt.contains("Value to cause reset : 01"), fadt);
        assertTrue(fadt.contains("SCI Interrupt : 0009"), fadt);
        assertTrue(fadt.contains("PM1A Event Block Address : 00000600"), fadt);
        assertTrue(fadt.contains("PM1A Control Block Address : 00000604"), fadt);
        assertTrue(Pattern.compile("Reset Register : \\[Generic Address Structure]\\s*\n"
                + ".*Space ID : 01 \\[SystemIO]\\s*\n.*Bit Width : 08\\s*\n.*\n.*\n.*Address : 00000000000003C0")
                .matcher(fadt).find(), fadt);
        long facs = written.facsAddress();
        assertTrue(fadt.contains(String.format("FACS Address : %08X", facs)), fadt);
        assertTrue(fadt.contains(String.format("FACS Address : %016X", facs)), fadt);

        // The FACS: not in the XSDT, found through the FADT; iasl knows it by its signature.
        Files.write(dir.resolve("facs.dat"), written.facs());
        assertNoTrouble("facs.dat: iasl said", run(dir, iasl, "-d", "facs.dat"));
        String facsDsl = Files.readString(dir.resolve("facs.dsl"));
        assertNoTrouble("facs.dsl", facsDsl);
        assertTrue(facsDsl.contains("Signature : \"FACS\""), facsDsl);
        assertTrue(facsDsl.contains("Length : 00000040"), facsDsl);
        assertTrue(facsDsl.contains("32 Firmware Waking Vector : 00000000"), facsDsl);
        assertTrue(facsDsl.contains("Version : 02"), facsDsl);

        String mcfg = Files.readString(dir.resolve("mcfg.dsl"));
        assertTrue(mcfg.contains("Base Address : 00000000E0000000"), mcfg);
    }

    /**
     * Compiling each disassembly back must give the same table (iasl puts its own compiler ID in the
     * header, and the checksum for it): every field was read where it was written, none left over.
     */
    @Test
    void dataTablesSurviveARoundTripThroughIasl(@TempDir Path dir) throws Exception {
        TablesInMemory written = writtenTables();
        for (String signature : written.tables().keySet()) {
            byte[] table = written.bytes(signature);
            String name = signature.toLowerCase(Locale.ROOT);
            Files.write(dir.resolve(name + ".dat"), table);
            run(dir, iasl, "-d", name + ".dat");
            // 6035: iasl wants a _HID's last four characters hex; QEMU's VGEN device is "QEMUVGID" all the same
            // (Linux matches its _CID), and Vessel keeps QEMU's IDs.
            String output = run(dir, iasl, "-vw", "6035", "-p", name + "-again", name + ".dsl");
            assertTrue(COMPILE_SUMMARY.matcher(output).find(), name + ".dsl did not compile cleanly:\n" + output);
            if (!name.equals("dsdt")) { // iasl's compiler re-encodes AML its own way; data tables it copies
                byte[] again = Files.readAllBytes(dir.resolve(name + "-again.aml"));
                assertArrayEquals(withoutCompilerFields(table), withoutCompilerFields(again), name);
            }
        }
    }

    /**
     * iasl will not disassemble a lone RSDP (it has no standard table header, and iasl 20200925 refuses
     * such a file), so iasl compiles one from the fields ours claims: the bytes, both checksums
     * included, must be ours.
     */
    @Test
    void iaslBuildsTheSameRsdp(@TempDir Path dir) throws Exception {
        byte[] rsdp = writtenTables().rsdp();
        long xsdt = TablesInMemory.readLong(rsdp, Rsdp.XSDT_ADDRESS_OFFSET);
        Files.writeString(dir.resolve("rsdp.asl"), String.join("\n",
                "[0008]                          Signature : \"RSD PTR \"",
                "[0001]                           Checksum : 00",
                "[0006]                             Oem ID : \"VESSEL\"",
                "[0001]                           Revision : 02",
                "[0004]                       RSDT Address : 00000000",
                "[0004]                             Length : 00000024",
                "[0008]                       XSDT Address : " + String.format("%016X", xsdt),
                "[0001]                  Extended Checksum : 00",
                "[0003]                           Reserved : 000000",
                ""));
        String output = run(dir, iasl, "rsdp.asl");
        assertTrue(COMPILE_SUMMARY.matcher(output).find(), output);
        assertArrayEquals(Files.readAllBytes(dir.resolve("rsdp.aml")), rsdp);
    }

    /** The table with its checksum and compiler ID and revision zeroed. */
    private static byte[] withoutCompilerFields(byte[] table) {
        byte[] copy = table.clone();
        copy[TableHeader.CHECKSUM_OFFSET] = 0;
        Arrays.fill(copy, 28, TableHeader.LENGTH, (byte) 0);
        return copy;
    }

    private static void assertNoTrouble(String what, String text) {
        Matcher m = TROUBLE.matcher(text);
        if (m.find()) {
            int lineStart = text.lastIndexOf('\n', m.start()) + 1;
            int lineEnd = text.indexOf('\n', m.start());
            fail(what + ": " + text.substring(lineStart, lineEnd < 0 ? text.length() : lineEnd) + "\n\n" + text);
        }
    }

    private static int count(String text, String needle) {
        int n = 0;
        for (int i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + needle.length())) {
            n++;
        }
        return n;
    }

    private static String run(Path dir, String... command) throws IOException, InterruptedException {
        return NativeTools.run(List.of(command), dir);
    }
}
