/**
 * The Linux x86 boot protocol: the bzImage setup header, {@code boot_params} (the "zero page") with the
 * e820 map, command line and initrd, and loading either the kernel Vessel decompressed itself
 * (entered at the ELF's 64-bit entry) or the bzImage's own decompressor (entered at its 64-bit entry).
 */
package vessel.boot.linux;
