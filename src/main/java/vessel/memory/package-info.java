/**
 * Guest RAM: regions mapped in this process and the one gate through which Vessel reads and writes
 * guest physical addresses. Every access is bounds-checked here, with overflow-safe arithmetic, so a
 * guest-supplied address that leaves RAM becomes a {@link vessel.memory.GuestMemoryException}, never a
 * host fault. Depends on {@code vessel.sys} only; KVM registration is the VMM's business.
 */
package vessel.memory;
