/**
 * ACPI tables for x86 guests, describing a hardware-reduced platform (no PM1 blocks, no SCI, no FACS):
 * the RSDP, XSDT, FADT, DSDT (AML built by {@link vessel.boot.acpi.Aml}), MADT and MCFG.
 * {@link vessel.boot.acpi.AcpiTables} places them all in guest memory. Uses only {@code vessel.memory}.
 */
package vessel.boot.acpi;
