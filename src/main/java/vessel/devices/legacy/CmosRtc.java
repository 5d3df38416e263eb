package vessel.devices.legacy;

import java.time.Clock;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;

import vessel.devices.BusDevice;

/**
 * The MC146818 CMOS RTC and NVRAM at ports 0x70 (index; bit 7 masks NMI) and 0x71 (data). Time comes
 * from the host clock in UTC; a guest that sets the clock keeps its own offset from it. The NVRAM
 * holds the memory-size bytes firmware would leave there. Update-in-progress is never reported: the
 * registers are computed at read time, so they are always consistent.
 */
public final class CmosRtc implements BusDevice, vessel.devices.Snapshottable<CmosRtc.State> {
    public static final int BASE_PORT = 0x70;
    public static final int LENGTH = 2;

    static final int SECONDS = 0x00;
    static final int MINUTES = 0x02;
    static final int HOURS = 0x04;
    static final int DAY_OF_WEEK = 0x06;
    static final int DAY_OF_MONTH = 0x07;
    static final int MONTH = 0x08;
    static final int YEAR = 0x09;
    static final int STATUS_A = 0x0a;
    static final int STATUS_B = 0x0b;
    static final int STATUS_C = 0x0c;
    static final int STATUS_D = 0x0d;
    static final int CENTURY = 0x32;

    static final int B_24H = 0x02;
    static final int B_BINARY = 0x04;
    static final int B_SET = 0x80;
    static final int D_VALID_RAM_AND_TIME = 0x80;

    /**
     * The NVRAM, the index register, the guest's offset from the host clock, and the time being set while
     * register B's SET bit is on ({@code settingEpochSecond} is meaningful only then).
     */
    public record State(byte[] nvram, int index, long offsetNanos, boolean setting, long settingEpochSecond) {
        public State {
            if (nvram.length != 128) {
                throw new IllegalArgumentException("RTC NVRAM is " + nvram.length + " bytes, not 128");
            }
            if (index < 0 || index >= 128) {
                throw new IllegalArgumentException("RTC index " + index + " is not an NVRAM address");
            }
            nvram = nvram.clone();
        }
    }

    @Override
    public Class<State> stateType() {
        return State.class;
    }

    @Override
    public State saveState() {
        return new State(nvram, index, offset.toNanos(), pending != null,
                pending == null ? 0 : pending.toEpochSecond());
    }

    /** The guest's clock offset is kept: a restored guest sees the host's time now plus its own offset, as after a pause. */
    @Override
    public void restoreState(State s) {
        System.arraycopy(s.nvram(), 0, nvram, 0, nvram.length);
        index = s.index();
        offset = Duration.ofNanos(s.offsetNanos());
        pending = s.setting() ? ZonedDateTime.ofInstant(java.time.Instant.ofEpochSecond(s.settingEpochSecond()),
                ZoneOffset.UTC) : null;
    }

    private final Clock clock;
    private final byte[] nvram = new byte[128];
    private int index;
    private Duration offset = Duration.ZERO;
    /** While SET is on in register B the guest writes time fields; they take effect when SET clears. */
    private ZonedDateTime pending;

    /** {@code ramBelow4g} and {@code ramAbove4g} fill the NVRAM's memory-size fields. */
    public CmosRtc(Clock clock, long ramBelow4g, long ramAbove4g) {
        this.clock = clock;
        nvram[STATUS_A] = 0x26; // 32.768 kHz time base, 1024 Hz periodic rate
        nvram[STATUS_B] = B_24H;
        nvram[STATUS_D] = (byte) D_VALID_RAM_AND_TIME;
        putWord(0x15, 640); // base memory, KiB
        long extKiB = Math.min(Math.max(ramBelow4g - 0x100000, 0) / 1024, 0xfc00);
        putWord(0x17, (int) extKiB);
        putWord(0x30, (int) extKiB);
        long above16m = Math.min(Math.max(ramBelow4g - 0x1000000, 0) / 65536, 0xffff);
        putWord(0x34, (int) above16m);
        long above4g = ramAbove4g / 65536;
        nvram[0x5b] = (byte) above4g;
        nvram[0x5c] = (byte) (above4g >>> 8);
        nvram[0x5d] = (byte) (above4g >>> 16);
    }

    /** QEMU's NVRAM bytes for PC firmware: boot from the hard disk first, skip the floppy signature check, CPU count. */
    static final int BOOT_FLAGS_1 = 0x38;
    static final int BOOT_FLAGS_2 = 0x3d;
    static final int CPU_COUNT = 0x5f;
    static final int BOOT_HARD_DISK = 0x02;

    /**
     * Fills the bytes SeaBIOS reads on a QEMU machine besides the memory sizes: the boot order (hard disk
     * first; fw_cfg's bootorder refines it) and the number of CPUs less one (QEMU hw/i386/pc.c).
     */
    public void setFirmwareFields(int cpus) {
        nvram[BOOT_FLAGS_2] = BOOT_HARD_DISK;
        nvram[BOOT_FLAGS_1] = 0x01; // bit 0: do not check the floppy boot signature
        nvram[CPU_COUNT] = (byte) (cpus - 1);
    }

    private void putWord(int reg, int v) {
        nvram[reg] = (byte) v;
        nvram[reg + 1] = (byte) (v >>> 8);
    }

    @Override
    public long read(long offset, int size) {
        if (offset == 0) {
            return 0xff; // the index register is write-only
        }
        return readRegister(index) & 0xff;
    }

    @Override
    public void write(long offset, int size, long value) {
        int v = (int) value & 0xff;
        if (offset == 0) {
            index = v & 0x7f;
            return;
        }
        writeRegister(index, v);
    }

    private ZonedDateTime now() {
        return ZonedDateTime.now(clock).withZoneSameInstant(ZoneOffset.UTC).plus(offset);
    }

    private int readRegister(int reg) {
        if (reg <= YEAR || reg == CENTURY) {
            ZonedDateTime t = pending != null ? pending : now();
            int v = switch (reg) {
                case SECONDS -> t.getSecond();
                case MINUTES -> t.getMinute();
                case HOURS -> t.getHour();
                case DAY_OF_WEEK -> t.getDayOfWeek().getValue() % 7 + 1; // 1 = Sunday
                case DAY_OF_MONTH -> t.getDayOfMonth();
                case MONTH -> t.getMonthValue();
                case YEAR -> t.getYear() % 100;
                case CENTURY -> t.getYear() / 100;
                default -> nvram[reg] & 0xff; // alarm registers
            };
            return reg == CENTURY || reg <= YEAR && isTimeField(reg) ? encode(v) : v;
        }
        if (reg == STATUS_C) {
            int v = nvram[STATUS_C] & 0xff;
            nvram[STATUS_C] = 0; // interrupt flags clear on read
            return v;
        }
        return nvram[reg] & 0xff;
    }

    private static boolean isTimeField(int reg) {
        return reg == SECONDS || reg == MINUTES || reg == HOURS || reg == DAY_OF_WEEK || reg == DAY_OF_MONTH
                || reg == MONTH || reg == YEAR;
    }

    private void writeRegister(int reg, int v) {
        switch (reg) {
            case STATUS_A -> nvram[STATUS_A] = (byte) (v & 0x7f); // UIP is read-only
            case STATUS_B -> {
                boolean wasSet = (nvram[STATUS_B] & B_SET) != 0;
                nvram[STATUS_B] = (byte) (v | B_24H);
                if ((v & B_SET) != 0 && !wasSet) {
                    pending = now();
                } else if ((v & B_SET) == 0 && pending != null) {
                    offset = offset.plus(Duration.between(now(), pending));
                    pending = null;
                }
            }
            case STATUS_C, STATUS_D -> { } // read-only
            case SECONDS, MINUTES, HOURS, DAY_OF_MONTH, MONTH, YEAR, CENTURY -> setTimeField(reg, decode(v));
            default -> nvram[reg] = (byte) v;
        }
    }

    private void setTimeField(int reg, int v) {
        ZonedDateTime t = pending != null ? pending : now();
        try {
            t = switch (reg) {
                case SECONDS -> t.withSecond(v);
                case MINUTES -> t.withMinute(v);
                case HOURS -> t.withHour(v);
                case DAY_OF_MONTH -> t.withDayOfMonth(v);
                case MONTH -> t.withMonth(v);
                case YEAR -> t.withYear(t.getYear() / 100 * 100 + v);
                case CENTURY -> t.withYear(v * 100 + t.getYear() % 100);
                default -> t;
            };
        } catch (java.time.DateTimeException e) {
            return; // a nonsensical value from the guest is ignored, as a real RTC would latch garbage
        }
        if (pending != null) {
            pending = t;
        } else {
            offset = offset.plus(Duration.between(now(), t));
        }
    }

    private boolean binary() {
        return (nvram[STATUS_B] & B_BINARY) != 0;
    }

    private int encode(int v) {
        return binary() ? v : ((v / 10) << 4) | (v % 10);
    }

    private int decode(int v) {
        return binary() ? v : ((v >> 4) * 10) + (v & 0xf);
    }
}
