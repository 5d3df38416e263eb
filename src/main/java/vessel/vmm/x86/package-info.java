/**
 * Completing x86 instructions the host's KVM could not: a decoder for the encodings involved (legacy
 * prefixes, REX, opcode maps, ModRM/SIB, displacements, RIP-relative addressing) and the semantics of
 * each instruction Vessel knows, written against {@link vessel.vmm.x86.CpuAccess} so they are tested on
 * encoded bytes without KVM.
 */
package vessel.vmm.x86;
