package vessel.devices.acpi;

import java.security.SecureRandom;
import java.util.Arrays;

import vessel.memory.GuestMemory;

/**
 * The VM Generation ID: 16 random bytes at a fixed guest address (described to the guest by
 * {@code VmGenIdAml} in the boot.acpi package). A new VM gets one; every restore of a snapshot gets another, so
 * two clones of one snapshot, and a clone and its original, never share a generation.
 *
 * <p>A running guest learns of a new ID from the ACPI notification the VMM raises after a restore (Notify on
 * \_SB.VGEN, through the Generic Event Device); Linux's vmgenid driver reads it at probe and on that notification.
 */
public final class VmGenerationId implements vessel.devices.Snapshottable<VmGenerationId.State> {
    public static final int GUID_BYTES = 16;

    private final GuestMemory memory;
    private final long address;
    private final SecureRandom random = new SecureRandom();
    private byte[] guid = new byte[GUID_BYTES];

    public VmGenerationId(GuestMemory memory, long address) {
        if (!memory.contains(address, GUID_BYTES)) {
            throw new IllegalArgumentException("VM generation ID at 0x" + Long.toHexString(address) + " is outside guest RAM");
        }
        this.memory = memory;
        this.address = address;
    }

    /** Writes a fresh random generation ID into guest memory. */
    public void newGeneration() {
        byte[] next = new byte[GUID_BYTES];
        do {
            random.nextBytes(next);
        } while (Arrays.equals(next, guid));
        guid = next;
        memory.write(address, guid, 0, GUID_BYTES);
    }

    public byte[] guid() {
        return guid.clone();
    }

    /** Where the ID is and the one the snapshotted VM had. */
    public record State(long address, byte[] guid) {
        public State {
            if (guid.length != GUID_BYTES) {
                throw new IllegalArgumentException("a generation ID of " + guid.length + " bytes");
            }
            guid = guid.clone();
        }
    }

    @Override
    public Class<State> stateType() {
        return State.class;
    }

    @Override
    public State saveState() {
        return new State(address, guid);
    }

    /** A restore is a new generation: another ID than the snapshot's is written where the guest reads it. */
    @Override
    public void restoreState(State s) {
        if (s.address() != address) {
            throw new IllegalArgumentException("generation ID at 0x" + Long.toHexString(s.address()) + ", here 0x"
                    + Long.toHexString(address));
        }
        guid = s.guid();
        newGeneration();
    }
}
