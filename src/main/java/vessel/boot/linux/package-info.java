/**
 * The Linux x86 boot protocol: the bzImage setup header, {@code boot_params} (the "zero page") with the
 * e820 map, command line and initrd, and two ways in: the kernel Vessel decompressed itself on the host
 * (the payload located from the setup header, each format distributions use unpacked with a maintained
 * library, the result checked to be an x86-64 ELF and entered at its 64-bit entry), or the bzImage's own
 * decompressor, entered at its 64-bit entry in the guest.
 */
package vessel.boot.linux;
