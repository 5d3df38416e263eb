/**
 * Booting through firmware instead of loading a kernel: the firmware ROM image (SeaBIOS's
 * {@code bios-256k.bin}) with its size rules, and the ACPI tables as QEMU hands them to firmware:
 * relocatable files plus the {@code etc/table-loader} commands that place and patch them.
 */
package vessel.boot.firmware;
