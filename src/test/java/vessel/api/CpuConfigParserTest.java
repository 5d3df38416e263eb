package vessel.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;

import vessel.boot.X86Cpu;
import vessel.kvm.CpuidEntry;
import vessel.vmm.CpuTemplate;

/** PUT /cpu-config's template: parsed as Firecracker reads one, applied to a CPUID table bit by bit. */
class CpuConfigParserTest {
    private static Model.CpuConfig config(String json) throws ApiException {
        return Json.read(json.getBytes(java.nio.charset.StandardCharsets.UTF_8), Model.CpuConfig::fromJson);
    }

    @Test
    void bitmapsChangeOnlyTheBitsTheyName() throws ApiException {
        CpuTemplate.BitChange c = CpuConfigParser.bitmap("0b" + "x".repeat(28) + "10x0", 32);
        assertEquals(0b1101, c.mask());
        assertEquals(0b1000, c.bits());
        assertEquals(0xffff_fffaL, c.apply(0xffff_ffffL));
        assertEquals(0b1000, c.apply(0));
        assertTrue(assertThrows(ApiException.class, () -> CpuConfigParser.bitmap("0b101", 32)).getMessage()
                .contains("0b and 32"));
        assertTrue(assertThrows(ApiException.class, () -> CpuConfigParser.bitmap("0b" + "2".repeat(32), 32))
                .getMessage().contains("`2`"));
    }

    @Test
    void numbersAreDecimalHexOrBinaryStrings() throws ApiException {
        assertEquals(0x8000_0001L, CpuConfigParser.number("0x80000001", "leaf", 32));
        assertEquals(5, CpuConfigParser.number("0b101", "leaf", 32));
        assertEquals(7, CpuConfigParser.number("7", "leaf", 32));
        assertThrows(ApiException.class, () -> CpuConfigParser.number("0x100000000", "leaf", 32));
        assertThrows(ApiException.class, () -> CpuConfigParser.number("seven", "leaf", 32));
    }

    @Test
    void aTemplateChangesTheCpuidTableAndAddsMissingLeaves() throws ApiException {
        CpuTemplate t = CpuConfigParser.parse(config("""
                {"kvm_capabilities": ["1", "2", "!1"],
                 "cpuid_modifiers": [
                   {"leaf": "0x1", "subleaf": "0x0", "flags": 0,
                    "modifiers": [{"register": "ecx", "bitmap": "0b0xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx1"}]},
                   {"leaf": "0x40000010", "subleaf": "0", "flags": 1,
                    "modifiers": [{"register": "eax", "bitmap": "0b00000000000000000000000000000011"}]}],
                 "msr_modifiers": [{"addr": "0x10a", "bitmap": "0b%s"}]}
                """.formatted("x".repeat(63) + "1")));
        assertEquals(List.of(2), t.requiredCaps());
        List<CpuidEntry> table = List.of(new CpuidEntry(1, 0, 0, 0x11, 0x22, 0x8000_0000, 0x44));
        List<CpuidEntry> out = t.applyCpuid(table);
        assertEquals(new CpuidEntry(1, 0, 0, 0x11, 0x22, 1, 0x44), out.get(0));
        assertEquals(new CpuidEntry(0x4000_0010, 0, 1, 3, 0, 0, 0), out.get(1));
        assertEquals(0x10a, t.msrs().getFirst().address());
        assertEquals(1, t.msrs().getFirst().change().apply(0));
    }

    @Test
    void unknownRegistersAndFieldsAreRefused() {
        assertTrue(assertThrows(ApiException.class, () -> CpuConfigParser.parse(config("""
                {"cpuid_modifiers": [{"leaf": "1", "subleaf": "0", "flags": 0,
                  "modifiers": [{"register": "esp", "bitmap": "0b%s"}]}]}""".formatted("x".repeat(32)))))
                .getMessage().contains("unknown variant `esp`"));
        assertTrue(assertThrows(ApiException.class, () -> config("{\"vcpu_features\": []}")).getMessage()
                .contains("unknown field `vcpu_features`"));
        assertTrue(assertThrows(ApiException.class, () -> CpuConfigParser.parse(config(
                "{\"kvm_capabilities\": [\"abc\"]}"))).getMessage().contains("`abc`"));
    }

    @Test
    void smtPresentsPairsOfThreads() {
        List<CpuidEntry> base = List.of(new CpuidEntry(4, 0, 1, 0x121, 0, 0, 0));
        List<CpuidEntry> out = X86Cpu.withSmtTopology(base, 3, 4);
        assertEquals((1 << 26) | 0x121, out.get(0).eax(), "2 cores per package");
        CpuidEntry smt = out.stream().filter(e -> e.function() == 0xb && e.index() == 0).findFirst().orElseThrow();
        CpuidEntry core = out.stream().filter(e -> e.function() == 0xb && e.index() == 1).findFirst().orElseThrow();
        assertEquals(List.of(1, 2, 1 << 8, 3), List.of(smt.eax(), smt.ebx(), smt.ecx(), smt.edx()));
        assertEquals(List.of(2, 4, (2 << 8) | 1, 3), List.of(core.eax(), core.ebx(), core.ecx(), core.edx()));
    }
}
