package vessel.devices.firmware;

import java.util.function.Consumer;

/**
 * QEMU's debug console at port 0x402 ({@code isa-debugcon}), where SeaBIOS writes its debug log one
 * byte per write once a read of the port has answered 0xE9. Bytes are gathered into lines for
 * {@code sink}; a line is cut at 200 characters so a guest that never writes a newline cannot grow it.
 * Every byte is a VM exit: a few thousand for SeaBIOS's whole log, which the VMM watches for the firmware's
 * own verdicts (no bootable device).
 */
public final class FirmwareDebugPort implements vessel.devices.BusDevice {
    public static final int PORT = 0x402;
    static final int READBACK = 0xe9;
    static final int MAX_LINE = 200;

    private final Consumer<String> sink;
    private final StringBuilder line = new StringBuilder();

    public FirmwareDebugPort(Consumer<String> sink) {
        this.sink = sink;
    }

    @Override
    public long read(long offset, int size) {
        return READBACK;
    }

    @Override
    public void write(long offset, int size, long value) {
        char c = (char) (value & 0xff);
        if (c == '\n' || line.length() >= MAX_LINE) {
            sink.accept(line.toString());
            line.setLength(0);
        }
        if (c != '\n' && c != '\r') {
            line.append(c >= 0x20 && c < 0x7f ? c : '.');
        }
    }
}
