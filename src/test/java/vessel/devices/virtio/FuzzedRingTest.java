package vessel.devices.virtio;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertThrows;

/** The device-write check the virtio fuzz targets rely on: it must catch a stray write, and only that. */
class FuzzedRingTest {
    private final FuzzedRing ring = new FuzzedRing();

    /** Descriptor 0: device-writable, 16 bytes at DATA; descriptor 1: device-readable, 16 bytes after it. */
    private void twoDescriptors() {
        ring.memory.writeLong(FuzzedRing.DESC, FuzzedRing.DATA);
        ring.memory.writeInt(FuzzedRing.DESC + 8, 16);
        ring.memory.writeShort(FuzzedRing.DESC + 12, (short) VirtQueue.DESC_F_WRITE);
        ring.memory.writeLong(FuzzedRing.DESC + 16, FuzzedRing.DATA + 16);
        ring.memory.writeInt(FuzzedRing.DESC + 24, 16);
        ring.snapshot();
    }

    @Test
    void writesIntoWritableBuffersAndTheUsedRingPass() {
        twoDescriptors();
        ring.memory.writeByte(FuzzedRing.DATA + 15, (byte) 1);
        ring.memory.writeShort(FuzzedRing.USED + 4, (short) 0);
        ring.checkDeviceWrites(1);
    }

    @Test
    void aWriteIntoAReadableBufferIsCaught() {
        twoDescriptors();
        ring.memory.writeByte(FuzzedRing.DATA + 16, (byte) 1);
        assertThrows(AssertionError.class, () -> ring.checkDeviceWrites(1));
    }

    @Test
    void moreUsedEntriesThanAvailableAreCaught() {
        twoDescriptors();
        ring.memory.writeShort(FuzzedRing.USED + 2, (short) 1); // the driver published none
        assertThrows(AssertionError.class, () -> ring.checkDeviceWrites(1));
    }

    @Test
    void aBufferTheDriverPutOverItsUsedRingMayOverwriteIt() {
        ring.memory.writeLong(FuzzedRing.DESC, FuzzedRing.USED);
        ring.memory.writeInt(FuzzedRing.DESC + 8, 64);
        ring.memory.writeShort(FuzzedRing.DESC + 12, (short) VirtQueue.DESC_F_WRITE);
        ring.memory.writeShort(FuzzedRing.AVAIL + 2, (short) 1);
        ring.snapshot();
        ring.memory.writeShort(FuzzedRing.USED + 2, (short) 1);
        ring.memory.writeInt(FuzzedRing.USED + 4, 0x5a5a5a5a); // the device's data, not a used element
        ring.checkDeviceWrites(1);
    }
}
