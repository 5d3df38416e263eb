package vessel.boot.acpi;

import java.util.HexFormat;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The VM Generation ID device's AML, byte for byte as ASL compiles it (the bytes are hand-assembled here). */
class VmGenIdAmlTest {
    private static String hex(String ascii) {
        return HexFormat.of().formatHex(ascii.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    }

    @Test
    void deviceWithQemuIdsAndAnAddrMethodReturningTheGuidAddress() {
        String hid = "08" + hex("_HID") + "0d" + hex("QEMUVGID") + "00"; // 15 bytes
        String cid = "08" + hex("_CID") + "0d" + hex("VM_Gen_Counter") + "00"; // 21 bytes
        // Package(2) {0xff000 as a DWord, Zero}: PkgLength 8 counts itself.
        String pkg = "12" + "08" + "02" + "0c" + "00f00f00" + "00";
        String addr = "14" + "10" + hex("ADDR") + "00" + "a4" + pkg; // Method, PkgLength 16, NotSerialized, Return
        // Device: ExtOp 5b 82, PkgLength 4 + 15 + 21 + 17 + 1 = 58 (0x3a), one byte.
        String expected = "5b82" + "3a" + hex("VGEN") + hid + cid + addr;
        assertEquals(expected, HexFormat.of().formatHex(VmGenIdAml.device(0xff000)));
    }

    @Test
    void anAddressAboveFourGibSplitsIntoTwoDwords() {
        String bytes = HexFormat.of().formatHex(VmGenIdAml.device(0x1_2345_6000L));
        assertEquals(true, bytes.contains("1208020c00604523" + "01"), bytes); // low 0x23456000, high One
    }
}
