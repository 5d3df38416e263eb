package vessel.devices.legacy;

import java.io.ByteArrayOutputStream;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import vessel.devices.BusDevice;

/**
 * The legacy devices' register files under any sequence of port accesses the guest can make: the bus hands
 * a device only accesses of 1, 2 or 4 bytes wholly inside its range, and the device must answer each
 * without throwing, with a value no wider than the access.
 */
class LegacyDeviceFuzzTest {
    private static final int MAX_ACCESSES = 256;

    @FuzzTest(maxDuration = "5s")
    void uart(FuzzedDataProvider data) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Uart16550 uart = new Uart16550(() -> { }, out, Uart16550.Events.NONE);
        int dataWrites = 0;
        for (int i = 0; i < MAX_ACCESSES && data.remainingBytes() > 0; i++) {
            if (data.consumeInt(0, 7) == 0) {
                // bytes from the host console arrive between accesses
                byte[] in = data.consumeBytes(data.consumeInt(0, 100));
                int space = uart.receiveSpace();
                int took = uart.receive(in, 0, in.length);
                if (took < 0 || took > in.length || took > space || space < 0 || space > Uart16550.FIFO_SIZE) {
                    throw new AssertionError("receive took " + took + " of " + in.length + " with space " + space);
                }
                continue;
            }
            int offset = data.consumeInt(0, 7);
            if (access(data, uart, offset, 8) && offset == 0) {
                dataWrites++;
            }
        }
        uart.flush();
        if (out.size() > dataWrites) {
            throw new AssertionError(out.size() + " bytes sent for " + dataWrites + " writes to offset 0");
        }
    }

    @FuzzTest(maxDuration = "5s")
    void i8042(FuzzedDataProvider data) {
        I8042 kbd = new I8042(() -> { }, () -> { });
        for (int i = 0; i < MAX_ACCESSES && data.remainingBytes() > 0; i++) {
            if (data.consumeInt(0, 15) == 0) {
                kbd.sendCtrlAltDel();
            } else {
                access(data, kbd, data.consumeInt(0, I8042.LENGTH - 1), I8042.LENGTH);
            }
        }
    }

    @FuzzTest(maxDuration = "5s")
    void rtc(FuzzedDataProvider data) {
        Clock clock = Clock.fixed(Instant.ofEpochSecond(data.consumeLong(0, 253402300799L)), ZoneOffset.UTC);
        CmosRtc rtc = new CmosRtc(clock, data.consumeLong(0, 4L << 30), data.consumeLong(0, 1L << 40));
        for (int i = 0; i < MAX_ACCESSES && data.remainingBytes() > 0; i++) {
            access(data, rtc, data.consumeInt(0, CmosRtc.LENGTH - 1), CmosRtc.LENGTH);
        }
    }

    @FuzzTest(maxDuration = "5s")
    void acpiPower(FuzzedDataProvider data) {
        int[] events = new int[2];
        AcpiPowerDevice acpi = new AcpiPowerDevice(() -> events[0]++, () -> events[1]++);
        int writes = 0;
        for (int i = 0; i < MAX_ACCESSES && data.remainingBytes() > 0; i++) {
            if (access(data, acpi, 0, AcpiPowerDevice.LENGTH)) {
                writes++;
            }
        }
        if (events[0] + events[1] > writes) {
            throw new AssertionError(events[0] + " power-offs and " + events[1] + " resets from " + writes + " writes");
        }
    }

    /** One access at {@code offset} of a size that fits in {@code length}; true when it was a write. */
    private static boolean access(FuzzedDataProvider data, BusDevice device, int offset, int length) {
        int size = 1 << data.consumeInt(0, 2);
        while (offset + size > length) {
            size >>= 1;
        }
        if (data.consumeBoolean()) {
            device.write(offset, size, data.consumeLong());
            return true;
        }
        long v = device.read(offset, size);
        long mask = (1L << (8 * size)) - 1;
        if ((v & ~mask) != 0) {
            throw new AssertionError("a " + size + "-byte read at " + offset + " gave 0x" + Long.toHexString(v));
        }
        return false;
    }
}
