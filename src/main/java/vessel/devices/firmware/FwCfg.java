package vessel.devices.firmware;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import vessel.devices.BusDevice;
import vessel.memory.GuestMemory;

/**
 * QEMU's firmware configuration interface (QEMU docs/specs/fw_cfg.rst) on x86's ports: a 16-bit
 * selector written at 0x510, the selected item's bytes read one at a time at 0x511, and the DMA
 * interface at 0x514-0x51B, whose big-endian address register takes the guest address of an
 * {@code FWCfgDmaAccess} ({@code be32 control, be32 length, be64 address}); writing its low half (or
 * all 8 bytes) runs the transfer. Items are read-only: a DMA write sets the error bit.
 *
 * <p>Every address and length the guest gives is checked against guest memory before anything is
 * copied; a transfer moves at most one item's bytes plus zero fill, so it is bounded by what the guest
 * asked for and never throws at the vCPU.
 */
public final class FwCfg implements BusDevice {
    public static final int PORT = 0x510;
    public static final int LENGTH = 12;

    /** Item keys (QEMU include/standard-headers/linux/qemu_fw_cfg.h). */
    public static final int SIGNATURE = 0x00;
    public static final int ID = 0x01;
    public static final int UUID = 0x02;
    public static final int RAM_SIZE = 0x03;
    public static final int NOGRAPHIC = 0x04;
    public static final int NB_CPUS = 0x05;
    public static final int MACHINE_ID = 0x06;
    public static final int NUMA = 0x0d;
    public static final int BOOT_MENU = 0x0e;
    public static final int MAX_CPUS = 0x0f;
    public static final int FILE_DIR = 0x19;
    public static final int FILE_FIRST = 0x20;
    /** Keys with this bit are the architecture's own (x86: ACPI, SMBIOS, IRQ0 override, e820 legacy). */
    public static final int ARCH_LOCAL = 0x8000;
    static final int ENTRY_MASK = 0x3fff;
    /** How long a file name may be, its NUL included. */
    public static final int FILE_NAME_MAX = 56;

    /** ID bits: the traditional port interface and the DMA interface. */
    static final int VERSION_TRADITIONAL = 1;
    static final int VERSION_DMA = 2;

    /** FWCfgDmaAccess control bits. */
    static final int DMA_ERROR = 0x01;
    static final int DMA_READ = 0x02;
    static final int DMA_SKIP = 0x04;
    static final int DMA_SELECT = 0x08;
    static final int DMA_WRITE = 0x10;
    static final int DMA_ACCESS_SIZE = 16;
    /** What a read of the DMA address register returns: "QEMU CFG", big-endian. */
    static final long DMA_SIGNATURE = 0x51454d5520434647L;

    /** Port offsets from {@link #PORT}. */
    static final int SELECTOR = 0;
    static final int DATA = 1;
    static final int DMA_HIGH = 4;
    static final int DMA_LOW = 8;

    /** No item: reads give zeros. */
    static final int INVALID = -1;

    /** The interface's state: the selected key (or -1), the offset into it, and the DMA address latched so far. */
    public record State(int selector, int offset, long dmaAddress) {
        public State {
            if (offset < 0) {
                throw new IllegalArgumentException("fw_cfg offset " + offset + " is negative");
            }
        }
    }

    private final GuestMemory memory;
    private final Map<Integer, byte[]> items;
    private int selector = SIGNATURE;
    private int offset;
    private long dmaAddress;
    private long transfers;
    private long failedTransfers;

    private FwCfg(GuestMemory memory, Map<Integer, byte[]> items) {
        this.memory = memory;
        this.items = Map.copyOf(items);
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The items and files a VM offers; the signature, ID and file directory are added by {@link #build}. */
    public static final class Builder {
        private final Map<Integer, byte[]> items = new HashMap<>();
        private final List<String> names = new ArrayList<>();
        private final List<byte[]> files = new ArrayList<>();

        public Builder item(int key, byte[] data) {
            int k = key & (ARCH_LOCAL | ENTRY_MASK);
            if (k != key || (key & ENTRY_MASK) == SIGNATURE || key == ID || key == FILE_DIR
                    || (key & ARCH_LOCAL) == 0 && key >= FILE_FIRST) {
                throw new IllegalArgumentException("fw_cfg key 0x" + Integer.toHexString(key) + " is not a free item key");
            }
            items.put(key, data.clone());
            return this;
        }

        public Builder u16(int key, int value) {
            return item(key, new byte[] {(byte) value, (byte) (value >>> 8)});
        }

        public Builder u32(int key, int value) {
            return item(key, le(value, 4));
        }

        public Builder u64(int key, long value) {
            return item(key, le(value, 8));
        }

        /** Adds a named file; the directory lists files in the order they were added. */
        public Builder file(String name, byte[] data) {
            byte[] n = name.getBytes(StandardCharsets.US_ASCII);
            if (n.length == 0 || n.length >= FILE_NAME_MAX) {
                throw new IllegalArgumentException("fw_cfg file name '" + name + "' is not 1 to 55 characters");
            }
            if (names.contains(name)) {
                throw new IllegalArgumentException("fw_cfg file '" + name + "' is added twice");
            }
            if (FILE_FIRST + files.size() > ENTRY_MASK) {
                throw new IllegalArgumentException("too many fw_cfg files");
            }
            names.add(name);
            files.add(data.clone());
            return this;
        }

        public FwCfg build(GuestMemory memory) {
            Map<Integer, byte[]> all = new HashMap<>(items);
            all.put(SIGNATURE, "QEMU".getBytes(StandardCharsets.US_ASCII));
            all.put(ID, le(VERSION_TRADITIONAL | VERSION_DMA, 4));
            // FWCfgFiles: be32 count, then per file be32 size, be16 select, be16 reserved, char name[56].
            byte[] dir = new byte[4 + files.size() * 64];
            putBe(dir, 0, files.size(), 4);
            for (int i = 0; i < files.size(); i++) {
                int at = 4 + i * 64;
                putBe(dir, at, files.get(i).length, 4);
                putBe(dir, at + 4, FILE_FIRST + i, 2);
                byte[] n = names.get(i).getBytes(StandardCharsets.US_ASCII);
                System.arraycopy(n, 0, dir, at + 8, n.length);
                all.put(FILE_FIRST + i, files.get(i));
            }
            all.put(FILE_DIR, dir);
            return new FwCfg(memory, all);
        }
    }

    static byte[] le(long value, int size) {
        byte[] b = new byte[size];
        for (int i = 0; i < size; i++) {
            b[i] = (byte) (value >>> (8 * i));
        }
        return b;
    }

    static void putBe(byte[] b, int at, long value, int size) {
        for (int i = 0; i < size; i++) {
            b[at + i] = (byte) (value >>> (8 * (size - 1 - i)));
        }
    }

    @Override
    public long read(long at, int size) {
        if (at == SELECTOR || at == DATA) {
            return readData(size);
        }
        if (at >= DMA_HIGH && at + size <= DMA_HIGH + 8) {
            // The register is big-endian: the bytes of "QEMU CFG" at this offset, in guest byte order.
            long v = 0;
            for (int i = 0; i < size; i++) {
                int shift = 8 * (7 - (int) (at - DMA_HIGH) - i);
                v |= ((DMA_SIGNATURE >>> shift) & 0xff) << (8 * i);
            }
            return v;
        }
        return 0;
    }

    @Override
    public void write(long at, int size, long value) {
        if (at == SELECTOR && size == 2) {
            select((int) value & 0xffff);
        } else if (at == DMA_HIGH && size == 4) {
            dmaAddress = Integer.toUnsignedLong(Integer.reverseBytes((int) value)) << 32;
        } else if (at == DMA_LOW && size == 4) {
            dmaAddress |= Integer.toUnsignedLong(Integer.reverseBytes((int) value));
            transfer();
        } else if (at == DMA_HIGH && size == 8) {
            dmaAddress = Long.reverseBytes(value);
            transfer();
        }
        // Anything else (data writes, odd sizes) is ignored, as QEMU ignores writes to read-only items.
    }

    private void select(int key) {
        offset = 0;
        selector = items.containsKey(key) ? key : INVALID;
    }

    private byte[] current() {
        return selector == INVALID ? null : items.get(selector);
    }

    /**
     * Up to {@code size} bytes of the item as QEMU composes them: the first byte most significant,
     * zeros on the right past the item's end (firmware reads one byte at a time).
     */
    private long readData(int size) {
        byte[] item = current();
        long v = 0;
        for (int i = 0; i < Math.min(size, 8); i++) {
            int b = item != null && offset < item.length ? item[offset++] & 0xff : 0;
            v = (v << 8) | b;
        }
        return v;
    }

    /** Runs the FWCfgDmaAccess at the latched address, then clears the latch, as QEMU does. */
    private void transfer() {
        long access = dmaAddress;
        dmaAddress = 0;
        transfers++;
        if (!memory.contains(access, DMA_ACCESS_SIZE)) {
            failedTransfers++;
            return; // nowhere to report the error: QEMU's write of the error bit fails the same way
        }
        byte[] d = memory.read(access, DMA_ACCESS_SIZE);
        int control = (int) be(d, 0, 4);
        long length = be(d, 4, 4);
        long address = be(d, 8, 8);
        if ((control & DMA_SELECT) != 0) {
            select(control >>> 16);
        }
        boolean read = (control & DMA_READ) != 0;
        boolean write = !read && (control & DMA_WRITE) != 0;
        boolean skip = !read && !write && (control & DMA_SKIP) != 0;
        if (!read && !write && !skip) {
            length = 0;
        }
        int status = 0;
        byte[] item = current();
        // At most two steps: the item's remaining bytes, then (for a read) zeros for the rest.
        while (length > 0 && status == 0) {
            long len;
            if (item == null || offset >= item.length) {
                len = length;
                if (write || read && !fill(address, len)) {
                    status = DMA_ERROR;
                }
            } else {
                len = Math.min(length, item.length - offset);
                if (write || read && !copy(address, item, offset, (int) len)) {
                    status = DMA_ERROR;
                }
                offset += (int) len;
            }
            address += len;
            length -= len;
        }
        if (status != 0) {
            failedTransfers++;
        }
        byte[] result = new byte[4];
        putBe(result, 0, status, 4);
        memory.write(access, result);
    }

    private boolean copy(long address, byte[] item, int from, int len) {
        if (!memory.contains(address, len)) {
            return false;
        }
        memory.write(address, item, from, len);
        return true;
    }

    private boolean fill(long address, long len) {
        if (!memory.contains(address, len)) {
            return false;
        }
        memory.fill(address, len, (byte) 0);
        return true;
    }

    private static long be(byte[] b, int at, int size) {
        long v = 0;
        for (int i = 0; i < size; i++) {
            v = (v << 8) | (b[at + i] & 0xff);
        }
        return v;
    }

    /** The item under {@code key}, or null (for tests and diagnostics). */
    public byte[] item(int key) {
        byte[] b = items.get(key);
        return b == null ? null : b.clone();
    }

    public State state() {
        return new State(selector, offset, dmaAddress);
    }

    /** Takes a saved state back; a selector that names no item reads as none. */
    public void restore(State s) {
        selector = items.containsKey(s.selector()) ? s.selector() : INVALID;
        offset = s.offset();
        dmaAddress = s.dmaAddress();
    }

    /** DMA transfers run, and how many of them ended in an error. */
    public long transfers() {
        return transfers;
    }

    public long failedTransfers() {
        return failedTransfers;
    }
}
