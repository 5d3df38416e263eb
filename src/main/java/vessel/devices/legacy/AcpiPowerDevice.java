package vessel.devices.legacy;

import vessel.devices.BusDevice;

/**
 * The one-byte ACPI reset register (the boot layer's {@code Fadt} names it), which also works as a
 * hardware-reduced platform's sleep control and status register for power-off. The FADT no longer
 * offers it for sleeping (sleep goes through PM1a control, {@link AcpiPm1Device}); a guest that writes
 * the S5 value here anyway still powers off.
 * A guest powers off by writing SLP_TYP (bits 2-4) = 5, the type its DSDT's {@code \_S5} gives, with
 * SLP_EN (bit 5); it resets by writing the FADT's RESET_VALUE. Reads are the sleep status register:
 * zero, as WAK_STS never sets when the machine never sleeps and wakes. The guest clears WAK_STS by
 * writing 0x80 before it sleeps; that write, like any other, changes nothing.
 */
public final class AcpiPowerDevice implements BusDevice {
    /** Where the FADT places the register; keep in step with {@code Fadt.POWER_REGISTER_PORT}. */
    public static final int PORT = 0x3c0;
    /** Where a firmware-booted VM's FADT places it; keep in step with {@code Fadt.PC_RESET_PORT}. */
    public static final int PC_PORT = 0x606;
    public static final int LENGTH = 1;

    /** The FADT's RESET_VALUE. */
    static final int RESET_VALUE = 1;
    static final int SLEEP_ENABLE = 1 << 5;
    static final int SLEEP_TYPE_SHIFT = 2;
    static final int SLEEP_TYPE_MASK = 0b111;
    /** The DSDT's {@code \_S5} sleep type, soft off. */
    static final int SOFT_OFF_SLEEP_TYPE = 5;

    private final Runnable powerOff;
    private final Runnable reset;

    /** {@code powerOff} runs when the guest enters S5; {@code reset} when it writes the reset value. */
    public AcpiPowerDevice(Runnable powerOff, Runnable reset) {
        this.powerOff = powerOff;
        this.reset = reset;
    }

    @Override
    public long read(long offset, int size) {
        return 0;
    }

    @Override
    public void write(long offset, int size, long value) {
        int v = (int) value & 0xff;
        if (v == RESET_VALUE) {
            reset.run();
        } else if ((v & SLEEP_ENABLE) != 0 && ((v >> SLEEP_TYPE_SHIFT) & SLEEP_TYPE_MASK) == SOFT_OFF_SLEEP_TYPE) {
            powerOff.run();
        }
        // other sleep types (S1-S4) are not offered in the DSDT; a guest writing one stays running
    }
}
