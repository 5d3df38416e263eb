package vessel.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * LZ4 block decompression through the system's liblz4 ({@code liblz4.so.1}; apt links it on Debian, so
 * it is normally there). Optional: the pure-Java decoder does the same work, but a JVM that has just
 * started runs it cold, which on hosts that emulate user-space code too costs more than the guest's own
 * decompressor would (1.8 s against under a second, measured nested). {@code LZ4_decompress_safe}
 * never writes past the capacity given and reports malformed input as a negative result.
 */
public final class LibLz4 {
    private static final String NAME = "liblz4.so.1";
    private static final MethodHandle DECOMPRESS_SAFE;

    static {
        MethodHandle h = null;
        try {
            SymbolLookup lookup = SymbolLookup.libraryLookup(NAME, Arena.global());
            // critical(true): the arrays are passed in place (no copy); the call is short and never blocks.
            h = Linker.nativeLinker().downcallHandle(lookup.find("LZ4_decompress_safe").orElseThrow(),
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT), Linker.Option.critical(true));
        } catch (IllegalArgumentException | java.util.NoSuchElementException | UnsatisfiedLinkError e) {
            h = null;
        }
        DECOMPRESS_SAFE = h;
    }

    private LibLz4() {}

    public static boolean available() {
        return DECOMPRESS_SAFE != null;
    }

    /**
     * Decompresses one LZ4 block {@code src[srcOff, srcOff+srcLen)} into {@code dst} from {@code dstOff},
     * writing at most {@code dstCapacity} bytes. Returns the bytes written, or -1 for malformed input.
     */
    public static int decompressBlock(byte[] src, int srcOff, int srcLen, byte[] dst, int dstOff, int dstCapacity) {
        java.util.Objects.checkFromIndexSize(srcOff, srcLen, src.length);
        java.util.Objects.checkFromIndexSize(dstOff, dstCapacity, dst.length);
        if (DECOMPRESS_SAFE == null) {
            throw new IllegalStateException(NAME + " is not available");
        }
        try {
            int n = (int) DECOMPRESS_SAFE.invokeExact(MemorySegment.ofArray(src).asSlice(srcOff, srcLen),
                    MemorySegment.ofArray(dst).asSlice(dstOff, dstCapacity), srcLen, dstCapacity);
            return n < 0 ? -1 : n;
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
    }
}
