package vessel.boot.linux;

import vessel.boot.ElfFile;

/**
 * A bzImage's kernel, decompressed on the host.
 *
 * @param payload where it was in the bzImage and how it was compressed
 * @param elf     the parsed x86-64 ELF headers of {@code vmlinux}
 * @param vmlinux the decompressed bytes: the ELF file, followed on relocatable kernels by the relocation
 *                table the kernel's own decompressor would apply (vmlinux.relocs); not needed when the
 *                kernel is loaded at its linked physical address
 */
public record DecompressedKernel(BzImagePayload payload, ElfFile elf, byte[] vmlinux) {
    public CompressionFormat format() {
        return payload.format();
    }
}
