package vessel.sys;

import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Zstandard decompression through the system's libzstd ({@code libzstd.so.1}; on Debian 12 apt itself
 * links it, so it is always there). Pure-Java decoders will not do: aircompressor's supports windows up
 * to 8 MiB, the zstd spec's recommended minimum, and the kernel build compresses with
 * {@code zstd -22 --ultra}, whose window is 128 MiB. libzstd's streaming decoder keeps its default window
 * limit (2^27 bytes, exactly that), so a hostile frame header cannot make it allocate more.
 */
public final class LibZstd {
    /** Native output chunk: large enough that call overhead does not matter, small next to a kernel. */
    private static final int CHUNK = 1 << 20;

    private LibZstd() {}

    /** Receives each chunk of output, valid only during the call; may throw to stop decompression. */
    @FunctionalInterface
    public interface Sink<X extends Exception> {
        void accept(MemorySegment chunk) throws X;
    }

    /** Why libzstd cannot be used on this host, or null when it can. */
    public static String unavailableReason() {
        return Library.FAILURE;
    }

    /**
     * Decompresses the zstd frames filling {@code input[offset, offset+length)} (nothing else may follow
     * them), handing the output to {@code sink} in chunks.
     *
     * @throws EOFException when the data ends inside a frame
     * @throws IOException  when libzstd rejects the data (its error name is the message), or is unavailable
     */
    public static <X extends Exception> void decompress(byte[] input, int offset, int length, Sink<X> sink)
            throws IOException, X {
        if (Library.FAILURE != null) {
            throw new IOException(Library.FAILURE);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment source = arena.allocate(length);
            MemorySegment.copy(input, offset, source, JAVA_BYTE, 0, length);
            MemorySegment chunk = arena.allocate(CHUNK);
            MemorySegment in = arena.allocate(Library.BUFFER);
            Library.BUFFER_DATA.set(in, 0L, source);
            Library.BUFFER_SIZE.set(in, 0L, (long) length);
            Library.BUFFER_POS.set(in, 0L, 0L);
            MemorySegment out = arena.allocate(Library.BUFFER);
            Library.BUFFER_DATA.set(out, 0L, chunk);
            Library.BUFFER_SIZE.set(out, 0L, (long) CHUNK);
            MemorySegment context = Library.createContext();
            try {
                while (true) {
                    Library.BUFFER_POS.set(out, 0L, 0L);
                    long result = Library.decompressStream(context, out, in);
                    long produced = (long) Library.BUFFER_POS.get(out, 0L);
                    if (produced > 0) {
                        sink.accept(chunk.asSlice(0, produced));
                    }
                    boolean inputUsed = (long) Library.BUFFER_POS.get(in, 0L) == length;
                    // A full chunk may mean more output is pending: only a partly filled one proves it flushed.
                    if (inputUsed && produced < CHUNK) {
                        if (result != 0) {
                            throw new EOFException("zstd data ends inside a frame");
                        }
                        return;
                    }
                }
            } finally {
                Library.freeContext(context);
            }
        }
    }

    /** libzstd's handles, looked up on first use so hosts that never decompress zstd never load it. */
    private static final class Library {
        private static final String NAME = "libzstd.so.1";
        /** ZSTD_inBuffer and ZSTD_outBuffer share this shape: a pointer, its size, the position reached. */
        static final StructLayout BUFFER = MemoryLayout.structLayout(
                ADDRESS.withName("data"), JAVA_LONG.withName("size"), JAVA_LONG.withName("pos"));
        static final VarHandle BUFFER_DATA = BUFFER.varHandle(MemoryLayout.PathElement.groupElement("data"));
        static final VarHandle BUFFER_SIZE = BUFFER.varHandle(MemoryLayout.PathElement.groupElement("size"));
        static final VarHandle BUFFER_POS = BUFFER.varHandle(MemoryLayout.PathElement.groupElement("pos"));
        static final String FAILURE;
        private static final MethodHandle CREATE_DCTX;
        private static final MethodHandle FREE_DCTX;
        private static final MethodHandle DECOMPRESS_STREAM;
        private static final MethodHandle IS_ERROR;
        private static final MethodHandle GET_ERROR_NAME;

        static {
            String failure = null;
            MethodHandle create = null;
            MethodHandle free = null;
            MethodHandle decompress = null;
            MethodHandle isError = null;
            MethodHandle errorName = null;
            try {
                SymbolLookup lookup = SymbolLookup.libraryLookup(NAME, Arena.global());
                Linker linker = Linker.nativeLinker();
                create = linker.downcallHandle(find(lookup, "ZSTD_createDCtx"), FunctionDescriptor.of(ADDRESS));
                free = linker.downcallHandle(find(lookup, "ZSTD_freeDCtx"), FunctionDescriptor.of(JAVA_LONG, ADDRESS));
                decompress = linker.downcallHandle(find(lookup, "ZSTD_decompressStream"),
                        FunctionDescriptor.of(JAVA_LONG, ADDRESS, ADDRESS, ADDRESS));
                isError = linker.downcallHandle(find(lookup, "ZSTD_isError"), FunctionDescriptor.of(JAVA_INT, JAVA_LONG));
                errorName = linker.downcallHandle(find(lookup, "ZSTD_getErrorName"), FunctionDescriptor.of(ADDRESS, JAVA_LONG));
            } catch (IllegalArgumentException | UnsatisfiedLinkError e) {
                failure = "zstd decompression needs the system's " + NAME + " (Debian: apt-get install libzstd1): "
                        + e.getMessage();
            }
            FAILURE = failure;
            CREATE_DCTX = create;
            FREE_DCTX = free;
            DECOMPRESS_STREAM = decompress;
            IS_ERROR = isError;
            GET_ERROR_NAME = errorName;
        }

        private static MemorySegment find(SymbolLookup lookup, String symbol) {
            return lookup.find(symbol).orElseThrow(() -> new UnsatisfiedLinkError(NAME + " has no " + symbol));
        }

        static MemorySegment createContext() throws IOException {
            MemorySegment context;
            try {
                context = (MemorySegment) CREATE_DCTX.invokeExact();
            } catch (Throwable t) {
                throw Libc.rethrow(t);
            }
            if (context.equals(MemorySegment.NULL)) {
                throw new IOException("ZSTD_createDCtx failed (out of memory)");
            }
            return context;
        }

        static void freeContext(MemorySegment context) {
            try {
                long ignored = (long) FREE_DCTX.invokeExact(context);
            } catch (Throwable t) {
                throw Libc.rethrow(t);
            }
        }

        /** One ZSTD_decompressStream step; returns its hint (0 once a frame is complete) or throws its error. */
        static long decompressStream(MemorySegment context, MemorySegment out, MemorySegment in) throws IOException {
            try {
                long result = (long) DECOMPRESS_STREAM.invokeExact(context, out, in);
                if ((int) IS_ERROR.invokeExact(result) != 0) {
                    MemorySegment name = (MemorySegment) GET_ERROR_NAME.invokeExact(result);
                    throw new IOException(name.reinterpret(256).getString(0));
                }
                return result;
            } catch (IOException e) {
                throw e;
            } catch (Throwable t) {
                throw Libc.rethrow(t);
            }
        }
    }
}
