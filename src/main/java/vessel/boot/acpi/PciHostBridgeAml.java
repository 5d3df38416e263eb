package vessel.boot.acpi;

/**
 * The AML for PCI segment 0: the host bridge device {@code PCI0} with the windows its bus decodes
 * ({@code _CRS}) and the INTx routing of each slot ({@code _PRT}), plus a motherboard-resources device
 * that reserves the ECAM window, which Linux requires before it trusts MCFG.
 *
 * @param mmio32Base first address of the 32-bit BAR window
 * @param mmio32End  last address of the 32-bit BAR window
 * @param mmio64Base first address of the 64-bit BAR window (above RAM)
 * @param mmio64End  last address of the 64-bit BAR window
 * @param ecam       the ECAM window the MCFG table describes
 * @param intxGsi    slot to I/O APIC input: slot N's INTA goes to {@code intxGsi[N]} (0: no entry)
 */
public record PciHostBridgeAml(long mmio32Base, long mmio32End, long mmio64Base, long mmio64End, Mcfg ecam,
                               int[] intxGsi) {
    public PciHostBridgeAml {
        intxGsi = intxGsi.clone();
    }

    /** Both devices, for {@link AcpiPlatform#withSystemBusDevice}. */
    public byte[] toAml() {
        return Aml.concat(hostBridge(), motherboardResources());
    }

    private byte[] hostBridge() {
        ResourceTemplate crs = new ResourceTemplate()
                .wordBusNumber(ecam.startBus(), ecam.endBus())
                .io(ResourceTemplate.IoDecode.DECODE16, 0xcf8, 0xcf8, 1, 8)
                .dwordIo(0x0000, 0x0cf7)
                .dwordIo(0x0d00, 0xffff)
                .dwordMemory(ResourceTemplate.Cacheability.NON_CACHEABLE, mmio32Base, mmio32End)
                .qwordMemory(ResourceTemplate.Cacheability.NON_CACHEABLE, mmio64Base, mmio64End);
        java.util.List<byte[]> routes = new java.util.ArrayList<>();
        for (int slot = 0; slot < intxGsi.length; slot++) {
            if (intxGsi[slot] != 0) {
                // Address: slot in the high word, any function; pin 0 is INTA; source 0 means a GSI.
                routes.add(Aml.packageOf(Aml.integer(((long) slot << 16) | 0xffff), Aml.integer(0),
                        Aml.integer(0), Aml.integer(intxGsi[slot])));
            }
        }
        return Aml.device("PCI0",
                Aml.name("_HID", Aml.eisaId("PNP0A08")),
                Aml.name("_CID", Aml.eisaId("PNP0A03")),
                Aml.name("_SEG", Aml.integer(0)),
                Aml.name("_UID", Aml.integer(0)),
                Aml.name("_BBN", Aml.integer(ecam.startBus())),
                Aml.name("_CRS", crs.toAml()),
                Aml.name("_PRT", Aml.packageOf(routes.toArray(byte[][]::new))));
    }

    private byte[] motherboardResources() {
        long base = ecam.ecamBase() + ((long) ecam.startBus() << 20);
        return Aml.device("MRES",
                Aml.name("_HID", Aml.eisaId("PNP0C02")),
                Aml.name("_UID", Aml.integer(1)),
                Aml.name("_CRS", new ResourceTemplate().memory32Fixed(false, base, ecam.windowSize()).toAml()));
    }
}
