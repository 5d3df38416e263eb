package vessel.devices;

/**
 * A device on a port-I/O or MMIO bus. Values travel as the low {@code size} bytes of a long
 * (little-endian, as x86 lays them out), so dispatching an exit allocates nothing. Devices are not
 * thread-safe: the {@link Bus} serializes calls into each one.
 */
public interface BusDevice {
    /** A read of {@code size} (1, 2, 4 or 8) bytes at {@code offset} from the device's base. */
    long read(long offset, int size);

    /** A write of the low {@code size} bytes of {@code value} at {@code offset}. */
    void write(long offset, int size, long value);
}
