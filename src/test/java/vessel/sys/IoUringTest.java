package vessel.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import vessel.testkit.NativeTools;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link IoUring}'s layouts pinned against {@code <linux/io_uring.h>}, and a real ring on a temporary file:
 * writes, reads, fdatasync and fallocate complete through it with their results, the completion eventfd
 * counts them, and the restrictions refuse any other operation and any SQE that names a file itself.
 */
class IoUringTest {
    @Test
    void layoutsMatchTheKernelHeader(@TempDir Path dir) throws Exception {
        String probe = """
                #include <stdio.h>
                #include <stddef.h>
                #include <linux/io_uring.h>
                #define F(s, f) printf(#s "." #f " %zu\\n", offsetof(struct s, f))
                #define S(s) printf(#s " %zu\\n", sizeof(struct s))
                int main(void) {
                    S(io_uring_params); S(io_sqring_offsets); S(io_cqring_offsets); S(io_uring_sqe);
                    S(io_uring_cqe); S(io_uring_restriction);
                    F(io_uring_params, sq_entries); F(io_uring_params, cq_entries); F(io_uring_params, flags);
                    F(io_uring_params, features); F(io_uring_params, sq_off); F(io_uring_params, cq_off);
                    F(io_sqring_offsets, head); F(io_sqring_offsets, tail); F(io_sqring_offsets, ring_mask);
                    F(io_sqring_offsets, array); F(io_cqring_offsets, head); F(io_cqring_offsets, tail);
                    F(io_cqring_offsets, ring_mask); F(io_cqring_offsets, cqes);
                    F(io_uring_sqe, opcode); F(io_uring_sqe, flags); F(io_uring_sqe, fd); F(io_uring_sqe, off);
                    F(io_uring_sqe, addr); F(io_uring_sqe, len); F(io_uring_sqe, rw_flags);
                    F(io_uring_sqe, fsync_flags); F(io_uring_sqe, user_data);
                    F(io_uring_cqe, user_data); F(io_uring_cqe, res); F(io_uring_cqe, flags);
                    F(io_uring_restriction, opcode); F(io_uring_restriction, sqe_op);
                    F(io_uring_restriction, sqe_flags);
                    printf("IORING_OP_NOP %d\\n", IORING_OP_NOP); printf("IORING_OP_READV %d\\n", IORING_OP_READV);
                    printf("IORING_OP_WRITEV %d\\n", IORING_OP_WRITEV); printf("IORING_OP_FSYNC %d\\n", IORING_OP_FSYNC);
                    printf("IORING_OP_FALLOCATE %d\\n", IORING_OP_FALLOCATE);
                    printf("IORING_FSYNC_DATASYNC %d\\n", IORING_FSYNC_DATASYNC);
                    printf("IOSQE_FIXED_FILE %d\\n", IOSQE_FIXED_FILE);
                    printf("IORING_SETUP_CQSIZE %d\\n", IORING_SETUP_CQSIZE);
                    printf("IORING_SETUP_R_DISABLED %d\\n", IORING_SETUP_R_DISABLED);
                    printf("IORING_SETUP_SUBMIT_ALL %d\\n", IORING_SETUP_SUBMIT_ALL);
                    printf("IORING_FEAT_SINGLE_MMAP %d\\n", IORING_FEAT_SINGLE_MMAP);
                    printf("IORING_FEAT_NODROP %d\\n", IORING_FEAT_NODROP);
                    printf("IORING_OFF_SQES %llu\\n", (unsigned long long) IORING_OFF_SQES);
                    printf("IORING_REGISTER_FILES %d\\n", IORING_REGISTER_FILES);
                    printf("IORING_REGISTER_EVENTFD %d\\n", IORING_REGISTER_EVENTFD);
                    printf("IORING_REGISTER_RESTRICTIONS %d\\n", IORING_REGISTER_RESTRICTIONS);
                    printf("IORING_REGISTER_ENABLE_RINGS %d\\n", IORING_REGISTER_ENABLE_RINGS);
                    printf("IORING_RESTRICTION_SQE_OP %d\\n", IORING_RESTRICTION_SQE_OP);
                    printf("IORING_RESTRICTION_SQE_FLAGS_REQUIRED %d\\n", IORING_RESTRICTION_SQE_FLAGS_REQUIRED);
                    return 0;
                }
                """;
        Map<String, Long> c = new HashMap<>();
        for (String line : NativeTools.compileAndRun(probe, dir).split("\n")) {
            String[] kv = line.trim().split(" ");
            c.put(kv[0], Long.parseLong(kv[1]));
        }
        assertEquals(c.get("io_uring_params"), IoUring.PARAMS.byteSize());
        assertEquals(c.get("io_sqring_offsets"), IoUring.SQRING_OFFSETS.byteSize());
        assertEquals(c.get("io_cqring_offsets"), IoUring.CQRING_OFFSETS.byteSize());
        assertEquals(c.get("io_uring_sqe"), IoUring.SQE.byteSize());
        assertEquals(c.get("io_uring_cqe"), IoUring.CQE.byteSize());
        assertEquals(c.get("io_uring_restriction"), IoUring.RESTRICTION.byteSize());
        for (String f : List.of("sq_entries", "cq_entries", "flags", "features", "sq_off", "cq_off")) {
            assertEquals(c.get("io_uring_params." + f), offset(IoUring.PARAMS, f), f);
        }
        for (String f : List.of("head", "tail", "ring_mask", "array")) {
            assertEquals(c.get("io_sqring_offsets." + f), offset(IoUring.SQRING_OFFSETS, f), f);
        }
        for (String f : List.of("head", "tail", "ring_mask", "cqes")) {
            assertEquals(c.get("io_cqring_offsets." + f), offset(IoUring.CQRING_OFFSETS, f), f);
        }
        for (String f : List.of("opcode", "flags", "fd", "off", "addr", "len", "rw_flags", "user_data")) {
            assertEquals(c.get("io_uring_sqe." + f), offset(IoUring.SQE, f), f);
        }
        assertEquals(c.get("io_uring_sqe.fsync_flags"), offset(IoUring.SQE, "rw_flags"), "the union's fsync_flags");
        for (String f : List.of("user_data", "res", "flags")) {
            assertEquals(c.get("io_uring_cqe." + f), offset(IoUring.CQE, f), f);
        }
        assertEquals(c.get("io_uring_restriction.opcode"), offset(IoUring.RESTRICTION, "opcode"));
        assertEquals(c.get("io_uring_restriction.sqe_op"), offset(IoUring.RESTRICTION, "arg"));
        assertEquals(c.get("io_uring_restriction.sqe_flags"), offset(IoUring.RESTRICTION, "arg"));
        assertEquals(c.get("IORING_OP_NOP"), (long) IoUring.IORING_OP_NOP);
        assertEquals(c.get("IORING_OP_READV"), (long) IoUring.IORING_OP_READV);
        assertEquals(c.get("IORING_OP_WRITEV"), (long) IoUring.IORING_OP_WRITEV);
        assertEquals(c.get("IORING_OP_FSYNC"), (long) IoUring.IORING_OP_FSYNC);
        assertEquals(c.get("IORING_OP_FALLOCATE"), (long) IoUring.IORING_OP_FALLOCATE);
        assertEquals(c.get("IORING_FSYNC_DATASYNC"), (long) IoUring.IORING_FSYNC_DATASYNC);
        assertEquals(c.get("IOSQE_FIXED_FILE"), (long) IoUring.IOSQE_FIXED_FILE);
        assertEquals(c.get("IORING_SETUP_CQSIZE"), (long) IoUring.IORING_SETUP_CQSIZE);
        assertEquals(c.get("IORING_SETUP_R_DISABLED"), (long) IoUring.IORING_SETUP_R_DISABLED);
        assertEquals(c.get("IORING_SETUP_SUBMIT_ALL"), (long) IoUring.IORING_SETUP_SUBMIT_ALL);
        assertEquals(c.get("IORING_FEAT_SINGLE_MMAP"), (long) IoUring.IORING_FEAT_SINGLE_MMAP);
        assertEquals(c.get("IORING_FEAT_NODROP"), (long) IoUring.IORING_FEAT_NODROP);
        assertEquals(c.get("IORING_OFF_SQES"), IoUring.IORING_OFF_SQES);
        assertEquals(c.get("IORING_REGISTER_FILES"), (long) IoUring.IORING_REGISTER_FILES);
        assertEquals(c.get("IORING_REGISTER_EVENTFD"), (long) IoUring.IORING_REGISTER_EVENTFD);
        assertEquals(c.get("IORING_REGISTER_RESTRICTIONS"), (long) IoUring.IORING_REGISTER_RESTRICTIONS);
        assertEquals(c.get("IORING_REGISTER_ENABLE_RINGS"), (long) IoUring.IORING_REGISTER_ENABLE_RINGS);
        assertEquals(c.get("IORING_RESTRICTION_SQE_OP"), (long) IoUring.IORING_RESTRICTION_SQE_OP);
        assertEquals(c.get("IORING_RESTRICTION_SQE_FLAGS_REQUIRED"), (long) IoUring.IORING_RESTRICTION_SQE_FLAGS_REQUIRED);
    }

    private static long offset(StructLayout l, String field) {
        return l.byteOffset(groupElement(field));
    }

    /** Completions of one reap, as (user data, result) pairs. */
    private static List<long[]> reapAll(IoUring ring, EventFd done, int expected) throws Exception {
        List<long[]> got = new ArrayList<>();
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (got.size() < expected && System.nanoTime() < deadline) {
            ring.reap((u, r) -> got.add(new long[] {u, r}));
            if (got.size() < expected) {
                Thread.sleep(1);
            }
        }
        assertEquals(expected, got.size(), "completions");
        assertTrue(done.drain() >= 1, "the registered eventfd was signalled");
        return got;
    }

    @Test
    void writesReadsSyncsAndPunchesHolesOnARealFile(@TempDir Path dir) throws Exception {
        assertNull(IoUring.probe(), "io_uring is available on this host (kernel.io_uring_disabled = 0)");
        Path file = dir.resolve("disk.img");
        Files.write(file, new byte[64 * 1024]);
        int fd = Libc.open(file.toString(), Libc.O_RDWR | Libc.O_CLOEXEC, 0);
        try (Arena arena = Arena.ofConfined(); EventFd done = new EventFd(Libc.EFD_NONBLOCK);
             IoUring ring = IoUring.open(8, fd, done.fd())) {
            assertEquals(8, ring.entries());
            MemorySegment out = arena.allocate(8192);
            for (int i = 0; i < 8192; i++) {
                out.set(JAVA_BYTE, i, (byte) (i * 7 + 3));
            }
            IoVec w = new IoVec(2);
            w.set(0, out, 0, 4096);
            w.set(1, out, 4096, 4096);
            assertTrue(ring.prepReadWrite(false, w, 2, 8192, 11));
            assertEquals(1, ring.submit());
            assertArrayEquals(new long[] {11, 8192}, reapAll(ring, done, 1).getFirst());

            MemorySegment in = arena.allocate(8192);
            IoVec r = new IoVec(2);
            r.set(0, in, 4096, 4096); // scattered in the other order
            r.set(1, in, 0, 4096);
            assertTrue(ring.prepReadWrite(true, r, 2, 8192, 12));
            assertTrue(ring.prepFsync(true, 13));
            assertEquals(2, ring.submit());
            List<long[]> got = reapAll(ring, done, 2);
            Map<Long, Long> results = new HashMap<>();
            got.forEach(p -> results.put(p[0], p[1]));
            assertEquals(8192L, results.get(12L));
            assertEquals(0L, results.get(13L), "fdatasync");
            assertArrayEquals(out.asSlice(0, 4096).toArray(JAVA_BYTE), in.asSlice(4096, 4096).toArray(JAVA_BYTE));
            assertArrayEquals(out.asSlice(4096, 4096).toArray(JAVA_BYTE), in.asSlice(0, 4096).toArray(JAVA_BYTE));

            assertTrue(ring.prepFallocate(FileIo.FALLOC_FL_KEEP_SIZE | FileIo.FALLOC_FL_PUNCH_HOLE, 8192, 4096, 14));
            assertEquals(1, ring.submit());
            assertArrayEquals(new long[] {14, 0}, reapAll(ring, done, 1).getFirst());
            byte[] onDisk = Files.readAllBytes(file);
            assertEquals(64 * 1024, onDisk.length, "KEEP_SIZE");
            for (int i = 8192; i < 12288; i++) {
                assertEquals(0, onDisk[i], "punched at " + i);
            }
            assertEquals(out.get(JAVA_BYTE, 4096), onDisk[12288]);

            // Past the end of the file: a short (zero-byte) read, reported as such.
            IoVec tail = new IoVec(1);
            tail.set(0, in, 0, 4096);
            assertTrue(ring.prepReadWrite(true, tail, 1, 64 * 1024, 15));
            ring.submit();
            assertArrayEquals(new long[] {15, 0}, reapAll(ring, done, 1).getFirst());
        } finally {
            Libc.close(fd);
        }
    }

    @Test
    void restrictionsRefuseOtherOperationsAndFilesNamedDirectly(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("disk.img");
        Files.write(file, new byte[4096]);
        int fd = Libc.open(file.toString(), Libc.O_RDWR | Libc.O_CLOEXEC, 0);
        try (EventFd done = new EventFd(Libc.EFD_NONBLOCK); IoUring ring = IoUring.open(4, fd, done.fd())) {
            int ioringOpRead = 22;
            int ioringOpOpenat = 18;
            assertTrue(ring.prepRaw(ioringOpRead, IoUring.IOSQE_FIXED_FILE, 0, 1));
            assertTrue(ring.prepRaw(ioringOpOpenat, IoUring.IOSQE_FIXED_FILE, 0, 2));
            assertTrue(ring.prepRaw(IoUring.IORING_OP_FSYNC, 0, fd, 3)); // the fd itself, not registered file 0
            assertTrue(ring.prepRaw(IoUring.IORING_OP_NOP, IoUring.IOSQE_FIXED_FILE, 0, 4));
            ring.submit();
            Map<Long, Long> results = new HashMap<>();
            reapAll(ring, done, 4).forEach(p -> results.put(p[0], p[1]));
            assertEquals((long) -Errno.EACCES, results.get(1L), "IORING_OP_READ is not allowed");
            assertEquals((long) -Errno.EACCES, results.get(2L), "IORING_OP_OPENAT is not allowed");
            assertEquals((long) -Errno.EACCES, results.get(3L), "an SQE without IOSQE_FIXED_FILE");
            assertEquals(0L, results.get(4L), "NOP is");
        } finally {
            Libc.close(fd);
        }
    }

    @Test
    void aFullRingRefusesMoreUntilSubmitted(@TempDir Path dir) throws Exception {
        int fd = Libc.open("/dev/null", Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        try (EventFd done = new EventFd(Libc.EFD_NONBLOCK); IoUring ring = IoUring.open(2, fd, done.fd())) {
            assertTrue(ring.prepNop(1));
            assertTrue(ring.prepNop(2));
            assertEquals(0, ring.free());
            assertTrue(!ring.prepNop(3), "full");
            assertEquals(2, ring.submit());
            assertEquals(2, ring.free());
            reapAll(ring, done, 2);
        } finally {
            Libc.close(fd);
        }
    }
}
