package vessel.devices.legacy;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class CmosRtcTest {
    // 2026-11-25 09:41:07 UTC, a Wednesday
    private final Clock clock = Clock.fixed(Instant.parse("2026-11-25T09:41:07Z"), ZoneOffset.UTC);
    private final CmosRtc rtc = new CmosRtc(clock, 256L << 20, 0);

    private int reg(int r) {
        rtc.write(0, 1, r | 0x80); // with NMI masked, as Linux does
        return (int) rtc.read(1, 1);
    }

    private void set(int r, int v) {
        rtc.write(0, 1, r);
        rtc.write(1, 1, v);
    }

    @Test
    void timeReadsInBcdByDefault() {
        assertEquals(0x07, reg(CmosRtc.SECONDS));
        assertEquals(0x41, reg(CmosRtc.MINUTES));
        assertEquals(0x09, reg(CmosRtc.HOURS));
        assertEquals(0x25, reg(CmosRtc.DAY_OF_MONTH));
        assertEquals(0x11, reg(CmosRtc.MONTH));
        assertEquals(0x26, reg(CmosRtc.YEAR));
        assertEquals(0x20, reg(CmosRtc.CENTURY));
        assertEquals(4, reg(CmosRtc.DAY_OF_WEEK), "Wednesday is day 4 counting Sunday as 1");
        assertEquals(0, reg(CmosRtc.STATUS_A) & 0x80, "never update-in-progress");
        assertEquals(0x80, reg(CmosRtc.STATUS_D), "valid RAM and time");
    }

    @Test
    void binaryModeIsHonoured() {
        set(CmosRtc.STATUS_B, CmosRtc.B_24H | CmosRtc.B_BINARY);
        assertEquals(41, reg(CmosRtc.MINUTES));
        assertEquals(2026 % 100, reg(CmosRtc.YEAR));
    }

    @Test
    void aGuestSettingTheClockKeepsItsOffset() {
        set(CmosRtc.STATUS_B, CmosRtc.B_24H | CmosRtc.B_SET);
        set(CmosRtc.HOURS, 0x13);
        set(CmosRtc.STATUS_B, CmosRtc.B_24H);
        assertEquals(0x13, reg(CmosRtc.HOURS));
        assertEquals(0x41, reg(CmosRtc.MINUTES));
    }

    @Test
    void nvramReportsMemorySizesAndHoldsBytes() {
        assertEquals(640, reg(0x15) | reg(0x16) << 8);
        assertEquals(((256 << 20) - (16 << 20)) / 65536, reg(0x34) | reg(0x35) << 8);
        set(0x40, 0x5a);
        assertEquals(0x5a, reg(0x40));
    }
}
