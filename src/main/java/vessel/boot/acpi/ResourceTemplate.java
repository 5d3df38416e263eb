package vessel.boot.acpi;

/**
 * Builds ASL's {@code ResourceTemplate() {...}}: resource descriptors (ACPI 6.5, section 6.4) in a
 * Buffer, closed by an End Tag whose checksum makes the descriptors sum to zero. Small descriptors carry
 * their type and length in one tag byte; large ones in a tag byte and a 16-bit length.
 */
public final class ResourceTemplate {
    private static final int IRQ_TAG = 0x04 << 3;
    private static final int IO_TAG = 0x08 << 3 | 7;
    private static final int FIXED_IO_TAG = 0x09 << 3 | 3;
    private static final int END_TAG = 0x0f << 3 | 1;
    private static final int MEMORY32_FIXED_TAG = 0x86;
    private static final int MEMORY32_FIXED_LENGTH = 9;

    /** _RNG = EntireRange: the window holds both ISA and non-ISA ports. */
    private static final int IO_ENTIRE_RANGE = 0x03;
    /** General flags: producer (bit 0 clear), positive decode, minimum and maximum fixed (_MIF, _MAF). */
    private static final int PRODUCER_FIXED_RANGE = 0x0c;

    /** The three sizes of address space descriptor, with their large-item tags. */
    private enum AddressWidth {
        WORD(2, 0x88), DWORD(4, 0x87), QWORD(8, 0x8a);

        final int bytes;
        final int tag;

        AddressWidth(int bytes, int tag) {
            this.bytes = bytes;
            this.tag = tag;
        }

        long max() {
            return bytes == 8 ? -1L : (1L << (8 * bytes)) - 1;
        }
    }

    /** An address space descriptor's Resource Type field. */
    private enum AddressSpace {
        MEMORY(0), IO(1), BUS_NUMBER(2);

        final int code;

        AddressSpace(int code) {
            this.code = code;
        }
    }

    /** How a device decodes an I/O port address. */
    public enum IoDecode { DECODE10, DECODE16 }

    /** An interrupt's trigger mode. */
    public enum Trigger { LEVEL, EDGE }

    /** An interrupt's polarity. */
    public enum Polarity { ACTIVE_HIGH, ACTIVE_LOW }

    /** Whether a memory range may be cached; a host bridge's MMIO window is not, RAM-like memory may be. */
    public enum Cacheability {
        NON_CACHEABLE(0), CACHEABLE(1), WRITE_COMBINING(2), PREFETCHABLE(3);

        final int code;

        Cacheability(int code) {
            this.code = code;
        }
    }

    private final ByteWriter descriptors = new ByteWriter();

    /** {@code IO(decode, min, max, alignment, length)}: a range of ports the device may be placed at. */
    public ResourceTemplate io(IoDecode decode, int minimum, int maximum, int alignment, int length) {
        requireRange("I/O base", minimum, 0xffff);
        requireRange("I/O base", maximum, 0xffff);
        requireRange("I/O alignment", alignment, 0xff);
        requireRange("I/O length", length, 0xff);
        descriptors.u8(IO_TAG).u8(decode == IoDecode.DECODE16 ? 1 : 0)
                .u16(minimum).u16(maximum).u8(alignment).u8(length);
        return this;
    }

    /** {@code FixedIO(base, length)}: ports at a fixed 10-bit address, as ISA devices decode them. */
    public ResourceTemplate fixedIo(int base, int length) {
        requireRange("fixed I/O base", base, 0x3ff);
        requireRange("fixed I/O length", length, 0xff);
        descriptors.u8(FIXED_IO_TAG).u16(base).u8(length);
        return this;
    }

    /** {@code IRQNoFlags() {irqs}}: ISA interrupts, edge-triggered, active high, not shared. */
    public ResourceTemplate irqNoFlags(int... irqs) {
        descriptors.u8(IRQ_TAG | 2).u16(irqMask(irqs));
        return this;
    }

    /** {@code IRQ(trigger, polarity, shared) {irqs}}. */
    public ResourceTemplate irq(Trigger trigger, Polarity polarity, boolean shared, int... irqs) {
        int flags = (trigger == Trigger.EDGE ? 0x01 : 0) | (polarity == Polarity.ACTIVE_LOW ? 0x08 : 0)
                | (shared ? 0x10 : 0);
        descriptors.u8(IRQ_TAG | 3).u16(irqMask(irqs)).u8(flags);
        return this;
    }

    /** {@code Memory32Fixed(ReadWrite|ReadOnly, base, length)}. */
    public ResourceTemplate memory32Fixed(boolean writable, long base, long length) {
        requireRange("memory base", base, 0xffff_ffffL);
        requireRange("memory length", length, 0xffff_ffffL);
        descriptors.u8(MEMORY32_FIXED_TAG).u16(MEMORY32_FIXED_LENGTH)
                .u8(writable ? 1 : 0).u32(base).u32(length);
        return this;
    }

    /** {@code WordBusNumber(ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, min, max, 0, count)}. */
    public ResourceTemplate wordBusNumber(int minimum, int maximum) {
        return addressSpace(AddressWidth.WORD, AddressSpace.BUS_NUMBER, 0, minimum, maximum);
    }

    /** {@code DWordIO(ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0, min, max, 0, length)}. */
    public ResourceTemplate dwordIo(long minimum, long maximum) {
        return addressSpace(AddressWidth.DWORD, AddressSpace.IO, IO_ENTIRE_RANGE, minimum, maximum);
    }

    /** {@code DWordMemory(ResourceProducer, PosDecode, MinFixed, MaxFixed, cacheability, ReadWrite, ...)}. */
    public ResourceTemplate dwordMemory(Cacheability cacheability, long minimum, long maximum) {
        return addressSpace(AddressWidth.DWORD, AddressSpace.MEMORY, memoryFlags(cacheability), minimum, maximum);
    }

    /** {@code QWordMemory(ResourceProducer, PosDecode, MinFixed, MaxFixed, cacheability, ReadWrite, ...)}. */
    public ResourceTemplate qwordMemory(Cacheability cacheability, long minimum, long maximum) {
        return addressSpace(AddressWidth.QWORD, AddressSpace.MEMORY, memoryFlags(cacheability), minimum, maximum);
    }

    /** The descriptors and the End Tag, as a Buffer object (the value of a {@code _CRS} name). */
    public byte[] toAml() {
        return Aml.buffer(descriptorBytes());
    }

    /** The descriptors and the End Tag alone. */
    public byte[] descriptorBytes() {
        byte[] bytes = new ByteWriter().bytes(descriptors.toByteArray()).u8(END_TAG).u8(0).toByteArray();
        bytes[bytes.length - 1] = ByteWriter.checksum(bytes, 0, bytes.length);
        return bytes;
    }

    private static int memoryFlags(Cacheability cacheability) {
        return 0x01 /* ReadWrite */ | cacheability.code << 1;
    }

    /**
     * A fixed window [minimum, maximum] that a bridge passes to its children: granularity and translation
     * zero, length implied by the bounds.
     */
    private ResourceTemplate addressSpace(AddressWidth width, AddressSpace space, int typeFlags,
                                          long minimum, long maximum) {
        if (Long.compareUnsigned(minimum, maximum) > 0 || Long.compareUnsigned(maximum, width.max()) > 0) {
            throw new IllegalArgumentException(String.format("bad %s window 0x%x-0x%x", width, minimum, maximum));
        }
        long length = maximum - minimum + 1;
        if (width == AddressWidth.QWORD && length == 0) {
            throw new IllegalArgumentException("a window cannot span all 2^64 addresses");
        }
        ByteWriter body = new ByteWriter().u8(space.code).u8(PRODUCER_FIXED_RANGE).u8(typeFlags);
        for (long field : new long[] {0 /* granularity */, minimum, maximum, 0 /* translation */, length}) {
            switch (width) {
                case WORD -> body.u16((int) field);
                case DWORD -> body.u32(field);
                case QWORD -> body.u64(field);
            }
        }
        descriptors.u8(width.tag).u16(body.size()).bytes(body.toByteArray());
        return this;
    }

    private static int irqMask(int... irqs) {
        if (irqs.length == 0) {
            throw new IllegalArgumentException("an IRQ descriptor needs at least one interrupt");
        }
        int mask = 0;
        for (int irq : irqs) {
            requireRange("ISA IRQ", irq, 15);
            mask |= 1 << irq;
        }
        return mask;
    }

    private static void requireRange(String what, long value, long max) {
        if (value < 0 || value > max) {
            throw new IllegalArgumentException(String.format("%s 0x%x out of range 0-0x%x", what, value, max));
        }
    }
}
