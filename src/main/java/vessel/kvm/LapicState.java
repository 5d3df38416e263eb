package vessel.kvm;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** {@code struct kvm_lapic_state}: the local APIC's 1 KiB register page, as the kernel copies it. */
public final class LapicState {
    public static final long BYTES = 1024;
    /** Register offsets in the page. */
    public static final int APIC_ID = 0x20;
    public static final int APIC_SPIV = 0xf0;
    public static final int APIC_LVT0 = 0x350;
    public static final int APIC_LVT1 = 0x360;
    /** LVT delivery modes (bits 8-10). */
    public static final int DELIVERY_EXTINT = 0x7 << 8;
    public static final int DELIVERY_NMI = 0x4 << 8;

    final byte[] regs;

    LapicState(byte[] regs) {
        this.regs = regs;
    }

    public int get(int offset) {
        return ByteBuffer.wrap(regs).order(ByteOrder.LITTLE_ENDIAN).getInt(offset);
    }

    public void set(int offset, int value) {
        ByteBuffer.wrap(regs).order(ByteOrder.LITTLE_ENDIAN).putInt(offset, value);
    }

    /** Sets the delivery mode of a local vector table entry, keeping its other bits. */
    public void setLvtDelivery(int lvtOffset, int mode) {
        set(lvtOffset, (get(lvtOffset) & ~0x700) | mode);
    }
}
