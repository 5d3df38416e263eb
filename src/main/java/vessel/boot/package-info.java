/**
 * Getting a guest to its first instruction: the x86 guest memory map, kernel image parsers and
 * loaders (flat binary, multiboot v1, later Linux), and the CPU state each entry mode needs. Loaders
 * write through {@link vessel.memory.GuestMemory} and return plain records; the VMM decides the rest.
 */
package vessel.boot;
