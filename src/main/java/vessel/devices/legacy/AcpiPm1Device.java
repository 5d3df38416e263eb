package vessel.devices.legacy;

import vessel.devices.BusDevice;

/**
 * The ACPI PM1a event and control blocks (ACPI 6.5, 4.8.3.1 and 4.8.3.2), six bytes from {@link #PORT}
 * as the FADT places them: PM1 status (offset 0, bits are cleared by writing 1), PM1 enable (2) and PM1
 * control (4). Writing SLP_EN (bit 13) with SLP_TYP (bits 10-12) puts the machine to sleep: the DSDT's
 * {@code \_S3} type suspends to RAM, its {@code \_S5} type powers off; other types are not offered and
 * change nothing. When a suspended machine wakes, WAK_STS (status bit 15) is set, which the OS polls
 * for and clears. SCI_EN (control bit 0) always reads 1: there is no legacy mode to switch from.
 * Nothing here raises the SCI: no enabled event ever fires. Not thread-safe: the bus serializes access
 * from vCPUs, and {@link #wake()} takes the same lock.
 */
public final class AcpiPm1Device implements BusDevice {
    /** Where the FADT places PM1a_EVT_BLK; keep in step with {@code Fadt.PM1A_EVENT_PORT}. */
    public static final int PORT = 0x600;
    public static final int LENGTH = 6;

    static final int STATUS_OFFSET = 0;
    static final int ENABLE_OFFSET = 2;
    static final int CONTROL_OFFSET = 4;

    /** PM1 status: the fixed events ACPI defines (TMR, BM, GBL, PWRBTN, SLPBTN, RTC, PCIEXP_WAKE, WAK). */
    static final int STATUS_BITS = 0x1 | 0x10 | 0x20 | 0x100 | 0x200 | 0x400 | 0x4000 | 0x8000;
    static final int WAKE_STATUS = 1 << 15;
    /** PM1 enable: TMR, GBL, PWRBTN, SLPBTN, RTC, PCIEXP_WAKE_DIS. */
    static final int ENABLE_BITS = 0x1 | 0x20 | 0x100 | 0x200 | 0x400 | 0x4000;
    static final int SCI_ENABLE = 1;
    static final int SLEEP_TYPE_SHIFT = 10;
    static final int SLEEP_TYPE_MASK = 0b111;
    static final int SLEEP_ENABLE = 1 << 13;
    /** PM1 control bits that keep what is written: SCI_EN, BM_RLD, GBL_RLS (write-only, reads 0) excluded. */
    static final int CONTROL_KEPT_BITS = 0x2 | (SLEEP_TYPE_MASK << SLEEP_TYPE_SHIFT);

    /** The DSDT's sleep types; keep in step with {@code Dsdt.S3_SLEEP_TYPE} and {@code Dsdt.S5_SLEEP_TYPE}. */
    static final int SUSPEND_SLEEP_TYPE = 1;
    static final int SOFT_OFF_SLEEP_TYPE = 5;

    /** The three registers, 16 bits each. */
    record Registers(int status, int enable, int control) {}

    /** What entering a sleep state does to the machine. */
    public interface Sleep {
        /** S3: park the vCPUs and quiesce devices until {@link AcpiPm1Device#wake()}; called on a vCPU thread. */
        void suspend();

        /** S5: end the VM. */
        void powerOff();
    }

    private final Sleep sleep;
    private Registers registers = new Registers(0, 0, SCI_ENABLE);

    public AcpiPm1Device(Sleep sleep) {
        this.sleep = sleep;
    }

    @Override
    public synchronized long read(long offset, int size) {
        long value = 0;
        for (int i = size - 1; i >= 0; i--) {
            value = (value << 8) | readByte(offset + i);
        }
        return value;
    }

    private int readByte(long offset) {
        if (offset < 0 || offset >= LENGTH) {
            return 0xff;
        }
        int register = switch ((int) offset / 2) {
            case 0 -> registers.status();
            case 1 -> registers.enable();
            default -> registers.control() | SCI_ENABLE;
        };
        return (register >> (8 * (int) (offset % 2))) & 0xff;
    }

    @Override
    public void write(long offset, int size, long value) {
        int sleepType = -1;
        synchronized (this) {
            // Gather the bytes per 16-bit register, with a mask of which bytes were written.
            int[] data = new int[3];
            int[] mask = new int[3];
            for (int i = 0; i < size; i++) {
                long at = offset + i;
                if (at < 0 || at >= LENGTH) {
                    continue;
                }
                int shift = 8 * (int) (at % 2);
                data[(int) at / 2] |= (int) ((value >>> (8 * i)) & 0xff) << shift;
                mask[(int) at / 2] |= 0xff << shift;
            }
            int status = registers.status() & ~(data[0] & mask[0] & STATUS_BITS);
            int enable = (registers.enable() & ~mask[1]) | (data[1] & mask[1] & ENABLE_BITS);
            int control = (registers.control() & ~(mask[2] & CONTROL_KEPT_BITS)) | (data[2] & mask[2] & CONTROL_KEPT_BITS);
            registers = new Registers(status, enable, control);
            if ((data[2] & mask[2] & SLEEP_ENABLE) != 0) {
                sleepType = (control >> SLEEP_TYPE_SHIFT) & SLEEP_TYPE_MASK;
            }
        }
        // Outside the lock: a suspend waits for the vCPUs, and a waking thread needs the lock.
        if (sleepType == SUSPEND_SLEEP_TYPE) {
            sleep.suspend();
        } else if (sleepType == SOFT_OFF_SLEEP_TYPE) {
            sleep.powerOff();
        }
    }

    /** The machine woke from S3: WAK_STS tells the OS it did. */
    public synchronized void wake() {
        registers = new Registers(registers.status() | WAKE_STATUS, registers.enable(), registers.control());
    }

    synchronized Registers registers() {
        return registers;
    }
}
