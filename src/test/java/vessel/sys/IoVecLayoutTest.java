package vessel.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import vessel.testkit.NativeTools;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Pins {@link IoVec}'s struct iovec against sys/uio.h, and readv/writev through it on a pipe. */
class IoVecLayoutTest {
    @Test
    void iovecMatchesTheCHeaders(@TempDir Path dir) throws Exception {
        String probe = """
                #define _GNU_SOURCE
                #include <stdio.h>
                #include <stddef.h>
                #include <limits.h>
                #include <sys/uio.h>
                int main(void) {
                    printf("sizeof %zu\\n", sizeof(struct iovec));
                    printf("base %zu\\n", offsetof(struct iovec, iov_base));
                    printf("len %zu\\n", offsetof(struct iovec, iov_len));
                    printf("IOV_MAX %d\\n", IOV_MAX);
                    return 0;
                }
                """;
        Map<String, Long> c = new HashMap<>();
        for (String line : NativeTools.compileAndRun(probe, dir).split("\n")) {
            String[] kv = line.trim().split(" ");
            c.put(kv[0], Long.parseLong(kv[1]));
        }
        assertEquals(c.get("sizeof"), IoVec.IOVEC.byteSize());
        assertEquals(c.get("base"), IoVec.IOVEC.byteOffset(MemoryLayout.PathElement.groupElement("iov_base")));
        assertEquals(c.get("len"), IoVec.IOVEC.byteOffset(MemoryLayout.PathElement.groupElement("iov_len")));
        assertEquals(c.get("IOV_MAX"), (long) IoVec.IOV_MAX);
    }

    @Test
    void writevGathersAndReadvScattersInOrder() throws Throwable {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment fds = arena.allocate(ValueLayout.JAVA_INT, 2);
            java.lang.foreign.Linker linker = java.lang.foreign.Linker.nativeLinker();
            var pipe = linker.downcallHandle(linker.defaultLookup().find("pipe").orElseThrow(),
                    java.lang.foreign.FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
            assertEquals(0, (int) pipe.invokeExact(fds));
            int r = fds.getAtIndex(ValueLayout.JAVA_INT, 0);
            int w = fds.getAtIndex(ValueLayout.JAVA_INT, 1);
            try {
                MemorySegment out = arena.allocateFrom(ValueLayout.JAVA_BYTE, "headerpayload".getBytes());
                IoVec gather = new IoVec(2);
                gather.set(0, out, 0, 6);
                gather.set(1, out, 6, 7);
                assertEquals(13, Libc.writevRaw(w, gather, 2));
                MemorySegment in = arena.allocate(32);
                IoVec scatter = new IoVec(3);
                scatter.set(0, in, 20, 4);
                scatter.set(1, in, 0, 4);
                scatter.set(2, in, 8, 10);
                assertEquals(13, Libc.readvRaw(r, scatter, 3));
                byte[] got = new byte[13];
                assertEquals(13, scatter.gather(3, got, 13));
                assertArrayEquals("headerpayload".getBytes(), got);
                assertEquals("head", new String(in.asSlice(20, 4).toArray(ValueLayout.JAVA_BYTE)));
                assertThrows(IndexOutOfBoundsException.class, () -> scatter.set(0, in, 30, 4), "past the segment");
                assertThrows(IndexOutOfBoundsException.class, () -> Libc.readvRaw(r, scatter, 4), "past the array");
            } finally {
                Libc.close(r);
                Libc.close(w);
            }
        }
    }
}
