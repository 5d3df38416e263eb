package vessel.devices.block;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * A qcow2 image (versions 2 and 3, QEMU's docs/interop/qcow2.txt): a guest cluster is found through the
 * L1 table (in memory) and an L2 table (a few cached), and is either allocated in this file, a v3 zero
 * cluster, a compressed cluster (read-only: writing one allocates a normal cluster), or unallocated:
 * read from the backing file (raw or qcow2, opened read-only) or as zeros.
 *
 * <p>Writes to an unallocated cluster copy the whole cluster (from the backing file, the compressed
 * data or zeros) into a new cluster at the end of the file. Metadata is updated in the order that keeps
 * the image consistent if the process dies, or the host loses power, at any point: a cluster's refcount
 * is durable before any table points at it, and so are the bytes a new cluster copied from elsewhere
 * (its backing file's, a compressed cluster's) before its L2 entry is written. A crash in between leaves
 * a cluster counted but not referenced: {@code qemu-img check} calls it a leak (exit status 3, harmless,
 * {@code -r leaks} reclaims it), never corruption. Refcounts are set, and synced, for a batch of
 * clusters at a time ({@link #RESERVE_BYTES}), so writing a new disk costs one fdatasync per batch rather
 * than one per cluster; closing the image gives back what the batch left unused. The guest's own bytes
 * in a new cluster need no sync of their own: like any write, they are durable once the guest's FLUSH
 * is done. A refcount block is written and synced before the refcount table points at it. Freed
 * clusters are never reused, so a crash cannot leave two references to one cluster.
 *
 * <p>Every number from the file is untrusted: offsets must be cluster-aligned, tables must lie inside
 * the file, sizes are bounded before anything is allocated for them, and the arithmetic cannot overflow.
 * A bad header is refused by {@link #open} with one {@link DiskImageException}; a bad table entry found
 * later fails that request with one.
 *
 * <p>Not implemented, and refused with one line: encryption, external data files, extended L2 entries,
 * non-zlib compression, images marked dirty or corrupt, writing to an image with internal snapshots, and
 * growing the refcount table (which only images with small clusters need: with 64 KiB clusters one
 * table cluster covers 16 TiB).
 */
public final class Qcow2Image implements DiskImage {
    static final int V2_HEADER_BYTES = 72;
    static final int V3_HEADER_BYTES = 104;
    static final int MIN_CLUSTER_BITS = 9;
    static final int MAX_CLUSTER_BITS = 21;
    /** QEMU's limits: QCOW_MAX_L1_SIZE (32 MiB of entries), QCOW_MAX_REFTABLE_SIZE (8 MiB). */
    static final long MAX_L1_BYTES = 32L << 20;
    static final long MAX_REFTABLE_BYTES = 8L << 20;
    static final int MAX_BACKING_NAME = 1023;
    /** How deep a backing chain may go: a loop (a backed by b backed by a) ends here. */
    static final int MAX_CHAIN_DEPTH = 16;
    /** Bytes of L2 tables kept in memory (at least one table). */
    static final int L2_CACHE_BYTES = 1 << 20;
    /** Bytes of clusters counted ahead, with one fdatasync, for the writes to come (at least one cluster). */
    static final long RESERVE_BYTES = 4L << 20;

    static final long COPIED = 1L << 63;
    static final long COMPRESSED = 1L << 62;
    static final long ZERO = 1L;
    /** Bits 9-55: a cluster's host offset in L1 and standard L2 entries. */
    static final long OFFSET_MASK = 0x00ff_ffff_ffff_fe00L;
    /** L2 bits 56-61 are reserved in a standard entry. */
    static final long L2_RESERVED = 0x3f00_0000_0000_0000L;

    static final int INCOMPAT_DIRTY = 1;
    static final int INCOMPAT_CORRUPT = 2;
    static final int EXT_END = 0;
    static final int EXT_BACKING_FORMAT = 0xe2792aca;

    private final Path path;
    private final FileChannel file;
    private final boolean readOnly;
    private final DiskImage backing;
    private final int version;
    private final int clusterBits;
    private final long clusterSize;
    private final int l2Bits;
    private final long size;
    private final long[] l1;
    private final long l1Offset;
    private final int refcountOrder;
    private final long[] refcountTable;
    private final long refcountTableOffset;
    private final Map<Long, long[]> l2Cache;
    /**
     * Host offsets of the clusters holding metadata (header, L1 and refcount tables, L2 tables, refcount
     * blocks): a guest write is never let through to one, whatever a hostile L2 entry says (QEMU's
     * overlap check).
     */
    private final java.util.Set<Long> metadata = new java.util.HashSet<>();
    /** The next cluster to try when allocating: never below the file's end when it was opened. */
    private long nextFree;
    /** Clusters counted (refcount 1, synced) but not yet used: {@link #allocateCluster} hands them out in order. */
    private final java.util.ArrayDeque<Long> reserved = new java.util.ArrayDeque<>();
    /** fdatasyncs so far: what a write costs, for tests. */
    private long syncs;
    private long cachedCompressedEntry = -1;
    private final byte[] cachedCompressed;

    private Qcow2Image(Path path, FileChannel file, boolean readOnly, Header h, long[] l1, long[] refcountTable,
            DiskImage backing, long fileSize) {
        this.path = path;
        this.file = file;
        this.readOnly = readOnly;
        this.backing = backing;
        this.version = h.version;
        this.clusterBits = h.clusterBits;
        this.clusterSize = 1L << clusterBits;
        this.l2Bits = clusterBits - 3;
        this.size = h.size;
        this.l1 = l1;
        this.l1Offset = h.l1Offset;
        this.refcountOrder = h.refcountOrder;
        this.refcountTable = refcountTable;
        this.refcountTableOffset = h.refcountTableOffset;
        int tables = (int) Math.max(1, L2_CACHE_BYTES >> clusterBits);
        this.l2Cache = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<Long, long[]> eldest) {
                return size() > tables;
            }
        };
        this.nextFree = alignUp(fileSize);
        this.cachedCompressed = new byte[(int) clusterSize];
        metadata.add(0L);
        addClusters(l1Offset, (long) l1.length * 8);
        addClusters(refcountTableOffset, (long) refcountTable.length * 8);
        for (long e : l1) {
            if ((e & OFFSET_MASK) != 0) {
                metadata.add(e & OFFSET_MASK);
            }
        }
        for (long e : refcountTable) {
            if ((e & ~511L) != 0) {
                metadata.add(e & ~511L);
            }
        }
    }

    private void addClusters(long offset, long bytes) {
        for (long c = offset; c < offset + bytes; c += clusterSize) {
            metadata.add(c);
        }
    }

    /** Opens {@code image}, read-write unless {@code readOnly}; its backing files are opened read-only. */
    public static Qcow2Image open(Path image, boolean readOnly) throws IOException {
        return open(image, readOnly, 0, true);
    }

    /**
     * As {@link #open(Path, boolean)}, refusing an image that names a backing file unless
     * {@code backingAllowed}: a qcow2 header found by probing may have been written by a guest into its
     * own raw disk, and its backing file would then be any host file the guest chose to read.
     */
    public static Qcow2Image open(Path image, boolean readOnly, boolean backingAllowed) throws IOException {
        return open(image, readOnly, 0, backingAllowed);
    }

    private static Qcow2Image open(Path image, boolean readOnly, int depth) throws IOException {
        return open(image, readOnly, depth, true);
    }

    private static Qcow2Image open(Path image, boolean readOnly, int depth, boolean backingAllowed) throws IOException {
        FileChannel f = readOnly ? FileChannel.open(image, StandardOpenOption.READ)
                : FileChannel.open(image, StandardOpenOption.READ, StandardOpenOption.WRITE);
        DiskImage backing = null;
        try {
            long fileSize = f.size();
            Header h = Header.read(image, f, fileSize);
            if (!readOnly && h.snapshots != 0) {
                throw new DiskImageException(image + ": has " + h.snapshots
                        + " internal snapshots, which Vessel cannot write around; open it read-only");
            }
            long[] l1 = readTable(f, h.l1Offset, h.l1Size);
            long[] reftable = readTable(f, h.refcountTableOffset, (int) ((long) h.refcountTableClusters << h.clusterBits >> 3));
            if (h.backingName != null && !backingAllowed) {
                throw new DiskImageException(image + ": a qcow2 image found by probing names a backing file ("
                        + h.backingName + "); name the format (format=qcow2) to use its backing file, or "
                        + "format=raw if the guest wrote that header");
            }
            if (h.backingName != null) {
                backing = openBacking(image, h, depth);
            }
            if (!readOnly && h.autoclear != 0) {
                // The spec: a writer that does not know an autoclear feature must clear its bit, so the
                // feature's data (bitmaps, say) is known to be stale.
                ByteBuffer zero = ByteBuffer.allocate(8);
                writeFully(f, zero, 88);
                f.force(false);
            }
            return new Qcow2Image(image, f, readOnly, h, l1, reftable, backing, fileSize);
        } catch (IOException | RuntimeException e) {
            f.close();
            if (backing != null) {
                backing.close();
            }
            throw e;
        }
    }

    private static DiskImage openBacking(Path image, Header h, int depth) throws IOException {
        if (depth + 1 >= MAX_CHAIN_DEPTH) {
            throw new DiskImageException(image + ": backing chain deeper than " + MAX_CHAIN_DEPTH + " (a loop?)");
        }
        Path dir = image.toAbsolutePath().getParent();
        Path b;
        try {
            b = dir == null ? Path.of(h.backingName) : dir.resolve(h.backingName);
        } catch (java.nio.file.InvalidPathException e) {
            throw new DiskImageException(image + ": backing file name is not a path");
        }
        DiskFormat format = h.backingFormat;
        if (format == null) {
            try {
                format = DiskFormat.probe(b);
            } catch (java.nio.file.NoSuchFileException e) {
                throw new DiskImageException(image + ": backing file " + b + " does not exist");
            } catch (IOException e) {
                throw new DiskImageException(image + ": backing file " + b + " cannot be read: " + e.getMessage());
            }
        }
        try {
            return switch (format) {
                case RAW -> RawImage.open(b, true);
                case QCOW2 -> open(b, true, depth + 1);
            };
        } catch (java.nio.file.NoSuchFileException e) {
            throw new DiskImageException(image + ": backing file " + b + " does not exist");
        } catch (DiskImageException e) {
            throw e;
        } catch (IOException e) {
            throw new DiskImageException(image + ": backing file " + b + " cannot be opened: " + e.getMessage());
        }
    }

    /** {@code entries} big-endian u64s at {@code offset}; the header check bounded both by the file. */
    private static long[] readTable(FileChannel f, long offset, int entries) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(entries * 8);
        readFully(f, b, offset);
        long[] table = new long[entries];
        b.flip().asLongBuffer().get(table);
        return table;
    }

    /** The header fields this class uses, checked against the file and against each other. */
    record Header(int version, int clusterBits, long size, int l1Size, long l1Offset, long refcountTableOffset,
                  int refcountTableClusters, int snapshots, long autoclear, int refcountOrder, String backingName,
                  DiskFormat backingFormat) {

        static Header read(Path image, FileChannel f, long fileSize) throws IOException {
            String what = image + ": ";
            if (fileSize < V2_HEADER_BYTES) {
                throw new DiskImageException(what + "too short for a qcow2 header (" + fileSize + " bytes)");
            }
            ByteBuffer b = ByteBuffer.allocate(V3_HEADER_BYTES).order(ByteOrder.BIG_ENDIAN);
            b.limit((int) Math.min(V3_HEADER_BYTES, fileSize));
            readFully(f, b, 0);
            if (b.getInt(0) != DiskFormat.QCOW2_MAGIC) {
                throw new DiskImageException(what + "not a qcow2 image (no QFI\\xfb magic)");
            }
            int version = b.getInt(4);
            if (version != 2 && version != 3) {
                throw new DiskImageException(what + "qcow2 version " + Integer.toUnsignedString(version)
                        + " is not supported (only 2 and 3)");
            }
            long backingOffset = b.getLong(8);
            int backingSize = b.getInt(16);
            int clusterBits = b.getInt(20);
            if (clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
                throw new DiskImageException(what + "cluster_bits " + Integer.toUnsignedString(clusterBits)
                        + " is outside " + MIN_CLUSTER_BITS + ".." + MAX_CLUSTER_BITS);
            }
            long clusterSize = 1L << clusterBits;
            long size = b.getLong(24);
            if (b.getInt(32) != 0) {
                throw new DiskImageException(what + "is encrypted, which Vessel does not support");
            }
            int l1Size = b.getInt(36);
            long l1Offset = b.getLong(40);
            long reftableOffset = b.getLong(48);
            int reftableClusters = b.getInt(56);
            int snapshots = b.getInt(60);
            long incompatible = 0;
            long autoclear = 0;
            int refcountOrder = 4;
            int headerLength = V2_HEADER_BYTES;
            if (version == 3) {
                if (fileSize < V3_HEADER_BYTES) {
                    throw new DiskImageException(what + "too short for a qcow2 v3 header (" + fileSize + " bytes)");
                }
                incompatible = b.getLong(72);
                autoclear = b.getLong(88);
                refcountOrder = b.getInt(96);
                headerLength = b.getInt(100);
                if (headerLength < V3_HEADER_BYTES || headerLength % 8 != 0 || headerLength > clusterSize) {
                    throw new DiskImageException(what + "header_length " + Integer.toUnsignedString(headerLength)
                            + " is not a multiple of 8 from " + V3_HEADER_BYTES + " to the cluster size");
                }
            }
            if ((incompatible & INCOMPAT_DIRTY) != 0) {
                throw new DiskImageException(what + "is marked dirty (lazy refcounts left unsaved); run qemu-img check -r all on it");
            }
            if ((incompatible & INCOMPAT_CORRUPT) != 0) {
                throw new DiskImageException(what + "is marked corrupt; run qemu-img check -r all on it");
            }
            if (incompatible != 0) {
                throw new DiskImageException(what + "uses incompatible features 0x" + Long.toHexString(incompatible)
                        + " that Vessel does not implement (external data file, compression type, extended L2...)");
            }
            if (refcountOrder < 0 || refcountOrder > 6) {
                throw new DiskImageException(what + "refcount_order " + Integer.toUnsignedString(refcountOrder)
                        + " is outside 0..6");
            }
            if (size < 0) {
                throw new DiskImageException(what + "virtual size " + Long.toUnsignedString(size) + " is too large");
            }
            // One L1 entry maps an L2 table of clusterSize/8 clusters: at most 2^39 bytes for 2 MiB clusters.
            int l2Bits = clusterBits - 3;
            long bytesPerL1Entry = 1L << (clusterBits + l2Bits);
            long neededL1 = (size >> (clusterBits + l2Bits)) + ((size & (bytesPerL1Entry - 1)) == 0 ? 0 : 1);
            if (Integer.toUnsignedLong(l1Size) * 8 > MAX_L1_BYTES) {
                throw new DiskImageException(what + "L1 table of " + Integer.toUnsignedString(l1Size) + " entries is too large");
            }
            if (l1Size < neededL1) {
                throw new DiskImageException(what + "L1 table of " + l1Size + " entries is too small for size " + size);
            }
            checkTable(what, "L1 table", l1Offset, (long) l1Size * 8, clusterSize, fileSize);
            if (reftableClusters == 0 || Integer.toUnsignedLong(reftableClusters) << clusterBits > MAX_REFTABLE_BYTES) {
                throw new DiskImageException(what + "refcount table of " + Integer.toUnsignedString(reftableClusters)
                        + " clusters is empty or too large");
            }
            checkTable(what, "refcount table", reftableOffset, (long) reftableClusters << clusterBits, clusterSize, fileSize);
            if (snapshots < 0) {
                throw new DiskImageException(what + "snapshot count " + Integer.toUnsignedString(snapshots) + " is absurd");
            }

            long extensionsEnd = clusterSize;
            String backingName = null;
            if (backingOffset != 0) {
                if (backingSize <= 0 || backingSize > MAX_BACKING_NAME) {
                    throw new DiskImageException(what + "backing file name length " + Integer.toUnsignedString(backingSize)
                            + " is outside 1.." + MAX_BACKING_NAME);
                }
                if (backingOffset < headerLength || backingOffset > clusterSize - backingSize
                        || backingOffset > fileSize - backingSize) {
                    throw new DiskImageException(what + "backing file name at " + Long.toUnsignedString(backingOffset)
                            + " is not inside the first cluster after the header");
                }
                ByteBuffer name = ByteBuffer.allocate(backingSize);
                readFully(f, name, backingOffset);
                backingName = new String(name.array(), StandardCharsets.UTF_8);
                if (backingName.indexOf('\0') >= 0) {
                    throw new DiskImageException(what + "backing file name has a NUL byte");
                }
                extensionsEnd = backingOffset;
            }
            DiskFormat backingFormat = readExtensions(what, f, headerLength, Math.min(extensionsEnd, fileSize));
            return new Header(version, clusterBits, size, l1Size, l1Offset, reftableOffset, reftableClusters, snapshots,
                    autoclear, refcountOrder, backingName, backingFormat);
        }

        /** A table must start on a cluster boundary after the header and end inside the file. */
        private static void checkTable(String what, String name, long offset, long bytes, long clusterSize, long fileSize)
                throws DiskImageException {
            if (offset <= 0 || (offset & (clusterSize - 1)) != 0 || offset > fileSize || bytes > fileSize - offset) {
                throw new DiskImageException(what + name + " at " + Long.toUnsignedString(offset) + " (" + bytes
                        + " bytes) is not cluster-aligned inside the file (" + fileSize + " bytes)");
            }
        }

        /**
         * Walks the header extensions from {@code start} to {@code end} (each: u32 type, u32 length, data
         * padded to 8 bytes; type 0 ends them) and returns the backing format, if one is named.
         */
        private static DiskFormat readExtensions(String what, FileChannel f, long start, long end) throws IOException {
            DiskFormat backingFormat = null;
            long at = start;
            ByteBuffer head = ByteBuffer.allocate(8);
            while (at + 8 <= end) {
                head.clear();
                readFully(f, head, at);
                int type = head.getInt(0);
                long length = Integer.toUnsignedLong(head.getInt(4));
                if (type == EXT_END) {
                    break;
                }
                if (length > end - at - 8) {
                    throw new DiskImageException(what + "header extension 0x" + Integer.toHexString(type)
                            + " runs past the end of the header area");
                }
                if (type == EXT_BACKING_FORMAT) {
                    if (length > 16) {
                        throw new DiskImageException(what + "backing format name is too long");
                    }
                    ByteBuffer name = ByteBuffer.allocate((int) length);
                    readFully(f, name, at + 8);
                    String n = new String(name.array(), StandardCharsets.UTF_8);
                    backingFormat = DiskFormat.parse(n);
                    if (backingFormat == null) {
                        throw new DiskImageException(what + "backing format '" + n.replaceAll("[^\\x20-\\x7e]", "?")
                                + "' is not raw or qcow2");
                    }
                }
                at += 8 + ((length + 7) & ~7L); // the loop advances at least 8 bytes, so it ends
            }
            return backingFormat;
        }
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public DiskFormat format() {
        return DiskFormat.QCOW2;
    }

    /** The backing image, or null. */
    public DiskImage backing() {
        return backing;
    }

    public int version() {
        return version;
    }

    public long clusterSize() {
        return clusterSize;
    }

    // ---------------------------------------------------------------- reading

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        checkRange(offset, dst.remaining());
        ByteBuffer d = dst.duplicate();
        long at = offset;
        while (d.hasRemaining()) {
            long inCluster = at & (clusterSize - 1);
            int n = (int) Math.min(d.remaining(), clusterSize - inCluster);
            d.limit(d.position() + n);
            readInCluster(at, d);
            d.limit(dst.limit());
            at += n;
        }
        dst.position(dst.limit());
    }

    /** Fills {@code dst} (inside one cluster) from guest offset {@code at}. */
    private void readInCluster(long at, ByteBuffer dst) throws IOException {
        long entry = l2Entry(at >>> clusterBits);
        long inCluster = at & (clusterSize - 1);
        switch (kind(entry)) {
            case NORMAL -> readHost((entry & OFFSET_MASK) + inCluster, dst);
            case ZERO -> fillZeros(dst);
            case COMPRESSED -> {
                byte[] c = decompress(entry);
                dst.put(c, (int) inCluster, dst.remaining());
            }
            case UNALLOCATED -> readBacking(at, dst);
        }
    }

    private void readBacking(long at, ByteBuffer dst) throws IOException {
        long have = backing == null ? 0 : Math.max(0, Math.min(dst.remaining(), backing.size() - at));
        if (have > 0) {
            int limit = dst.limit();
            dst.limit(dst.position() + (int) have);
            backing.read(at, dst);
            dst.limit(limit);
        }
        fillZeros(dst);
    }

    /** Reads host bytes; past the end of the file (a cluster allocated but never written) they are zeros. */
    private void readHost(long hostOffset, ByteBuffer dst) throws IOException {
        int p0 = dst.position();
        while (dst.hasRemaining()) {
            if (file.read(dst, hostOffset + dst.position() - p0) < 0) {
                fillZeros(dst);
                return;
            }
        }
    }

    /** Zeros from {@code dst}'s position to its limit, in bulk (a byte at a time, an empty disk read slowly). */
    private static void fillZeros(ByteBuffer dst) {
        if (dst.hasRemaining()) {
            MemorySegment.ofBuffer(dst).fill((byte) 0);
            dst.position(dst.limit());
        }
    }

    enum Kind { NORMAL, ZERO, COMPRESSED, UNALLOCATED }

    /** What an L2 entry (already checked by {@link #l2Entry}) says the cluster is. */
    private Kind kind(long entry) {
        if ((entry & COMPRESSED) != 0) {
            return Kind.COMPRESSED;
        }
        if (version == 3 && (entry & ZERO) != 0) {
            return Kind.ZERO;
        }
        return (entry & OFFSET_MASK) == 0 ? Kind.UNALLOCATED : Kind.NORMAL;
    }

    /** The compressed cluster {@code entry} points at, inflated (raw deflate) into a cluster of bytes. */
    private byte[] decompress(long entry) throws IOException {
        if (entry == cachedCompressedEntry) {
            return cachedCompressed;
        }
        int x = 62 - (clusterBits - 8);
        long hostOffset = entry & ((1L << x) - 1);
        long sectors = ((entry & ~(COPIED | COMPRESSED)) >>> x) + 1;
        long bytes = sectors * 512 - (hostOffset & 511);
        if (bytes > 2 * clusterSize || bytes <= 0) {
            throw new DiskImageException(path + ": compressed cluster at " + hostOffset + " claims " + bytes + " bytes");
        }
        ByteBuffer in = ByteBuffer.allocate((int) bytes);
        readHost(hostOffset, in);
        Inflater inflater = new Inflater(true);
        try {
            inflater.setInput(in.array(), 0, (int) bytes);
            int out = 0;
            while (out < clusterSize) {
                int n = inflater.inflate(cachedCompressed, out, (int) clusterSize - out);
                if (n == 0) { // finished, out of input or wanting a dictionary: no more will come
                    break;
                }
                out += n;
            }
            if (out != clusterSize) {
                cachedCompressedEntry = -1;
                throw new DiskImageException(path + ": compressed cluster at " + hostOffset + " inflates to "
                        + out + " bytes, not " + clusterSize);
            }
        } catch (DataFormatException e) {
            cachedCompressedEntry = -1;
            throw new DiskImageException(path + ": compressed cluster at " + hostOffset + " is not deflate data");
        } finally {
            inflater.end();
        }
        cachedCompressedEntry = entry;
        return cachedCompressed;
    }

    /** The L2 entry for guest cluster {@code vcluster}, checked; 0 where no L2 table exists. */
    private long l2Entry(long vcluster) throws IOException {
        int l1Index = (int) (vcluster >>> l2Bits);
        long l2Offset = l1[l1Index] & OFFSET_MASK;
        if (l2Offset == 0) {
            return 0;
        }
        long entry = l2Table(l2Offset)[(int) (vcluster & ((1L << l2Bits) - 1))];
        if ((entry & COMPRESSED) == 0) {
            if ((entry & L2_RESERVED) != 0 || (entry & (clusterSize - 1) & ~ZERO) != 0 || (version == 2 && (entry & ZERO) != 0)) {
                throw new DiskImageException(path + ": L2 entry 0x" + Long.toHexString(entry) + " for guest cluster "
                        + vcluster + " is malformed");
            }
        }
        return entry;
    }

    /** The L2 table at host {@code offset}, from the cache or the file. */
    private long[] l2Table(long offset) throws IOException {
        long[] t = l2Cache.get(offset);
        if (t != null) {
            return t;
        }
        if ((offset & (clusterSize - 1)) != 0 || offset > file.size() - clusterSize) {
            throw new DiskImageException(path + ": L2 table at " + offset + " is not a cluster inside the file");
        }
        t = readTable(file, offset, (int) (clusterSize >> 3));
        l2Cache.put(offset, t);
        return t;
    }

    // ---------------------------------------------------------------- writing

    @Override
    public void write(long offset, ByteBuffer src) throws IOException {
        checkWritable();
        checkRange(offset, src.remaining());
        ByteBuffer s = src.duplicate();
        long at = offset;
        while (s.hasRemaining()) {
            long inCluster = at & (clusterSize - 1);
            int n = (int) Math.min(s.remaining(), clusterSize - inCluster);
            s.limit(s.position() + n);
            writeInCluster(at, s);
            s.limit(src.limit());
            at += n;
        }
        src.position(src.limit());
    }

    /** Bytes of a request gathered into one buffer before it is written (see {@link #write(long, List)}). */
    static final int GATHER_BYTES = 1 << 20;

    /** Gathers {@code parts} into buffers of up to {@value #GATHER_BYTES}, so whole clusters are written whole. */
    @Override
    public void write(long offset, List<MemorySegment> parts) throws IOException {
        if (parts.size() == 1) {
            write(offset, parts.getFirst());
            return;
        }
        long total = 0;
        for (MemorySegment part : parts) {
            total += part.byteSize();
        }
        ByteBuffer gathered = ByteBuffer.allocate((int) Math.min(total, GATHER_BYTES));
        long at = offset;
        for (MemorySegment part : parts) {
            for (long done = 0; done < part.byteSize(); ) {
                int n = (int) Math.min(part.byteSize() - done, gathered.remaining());
                gathered.put(part.asSlice(done, n).asByteBuffer());
                done += n;
                if (!gathered.hasRemaining()) {
                    gathered.flip();
                    at += gathered.remaining();
                    write(at - gathered.remaining(), gathered);
                    gathered.clear();
                }
            }
        }
        if (gathered.position() > 0) {
            gathered.flip();
            write(at, gathered);
        }
    }

    @Override
    public void writeZeroes(long offset, long length) throws IOException {
        checkWritable();
        checkRange(offset, length);
        ByteBuffer zeros = ByteBuffer.allocate((int) Math.min(length, clusterSize));
        for (long done = 0; done < length; ) {
            int n = (int) Math.min(length - done, zeros.capacity());
            zeros.clear().limit(n);
            write(offset + done, zeros);
            done += n;
        }
    }

    /** Writes {@code src} (inside one cluster) at guest offset {@code at}. */
    private void writeInCluster(long at, ByteBuffer src) throws IOException {
        long vcluster = at >>> clusterBits;
        long inCluster = at & (clusterSize - 1);
        int l1Index = (int) (vcluster >>> l2Bits);
        int l2Index = (int) (vcluster & ((1L << l2Bits) - 1));
        long entry = l2Entry(vcluster);
        Kind kind = kind(entry);
        long host = entry & OFFSET_MASK;
        if ((kind == Kind.NORMAL || kind == Kind.ZERO) && host != 0 && (host > nextFree - clusterSize || metadata.contains(host))) {
            throw new DiskImageException(path + ": L2 entry for guest cluster " + vcluster + " points at host offset "
                    + host + ", " + (metadata.contains(host) ? "a metadata cluster" : "past the end of the file"));
        }
        if (kind == Kind.NORMAL && (entry & COPIED) != 0) {
            writeHost(host + inCluster, src); // allocated and ours alone: in place, no metadata changes
            return;
        }
        // Anything else becomes a whole new cluster: the old contents with src laid over them.
        ByteBuffer cluster = ByteBuffer.allocate((int) clusterSize);
        boolean partial = inCluster != 0 || src.remaining() != clusterSize;
        if (partial) {
            readInCluster(vcluster << clusterBits, cluster);
            cluster.clear();
        }
        // Bytes the guest did not write that are not zeros must be on disk before the entry that makes
        // them the cluster's: otherwise a power cut could leave it reading zeros where its base had data.
        boolean copied = partial && switch (kind) {
            case UNALLOCATED -> backing != null && (vcluster << clusterBits) < backing.size();
            case ZERO -> false;
            case NORMAL, COMPRESSED -> true;
        };
        cluster.position((int) inCluster);
        cluster.put(src);
        cluster.clear();

        long l1Entry = l1[l1Index];
        long l2Offset = l1Entry & OFFSET_MASK;
        if (l2Offset != 0 && (l1Entry & COPIED) == 0) {
            throw new DiskImageException(path + ": L2 table at " + l2Offset + " is shared (snapshots); Vessel cannot write it");
        }
        if (kind == Kind.ZERO && host != 0 && (entry & COPIED) != 0) {
            // A preallocated zero cluster: fill it in place, then clear the flag. Its old bytes are not
            // zeros, so they must not show through: the new ones are durable before the entry changes.
            writeHost(host, cluster);
            sync();
            setL2Entry(l2Offset, l2Index, host | COPIED);
            return;
        }
        long data = allocateCluster(); // counted, durably, before anything below points at it
        long newL2 = l2Offset == 0 ? allocateCluster() : 0;
        writeHost(data, cluster);
        if (newL2 != 0) {
            long[] table = new long[(int) (clusterSize >> 3)];
            table[l2Index] = data | COPIED;
            ByteBuffer t = ByteBuffer.allocate((int) clusterSize);
            t.asLongBuffer().put(table);
            writeHost(newL2, t);
            l2Cache.put(newL2, table);
            metadata.add(newL2);
        }
        if (copied || newL2 != 0) {
            sync(); // the copied bytes, or the new table, are whole before an entry points at them
        }
        if (newL2 != 0) {
            ByteBuffer e = ByteBuffer.allocate(8).putLong(0, newL2 | COPIED);
            writeHost(l1Offset + (long) l1Index * 8, e);
            l1[l1Index] = newL2 | COPIED;
        } else {
            setL2Entry(l2Offset, l2Index, data | COPIED);
        }
        if (kind == Kind.COMPRESSED || (kind == Kind.NORMAL && host != 0)) {
            // Only once nothing on disk points at the old cluster: a crash before this leaks it.
            sync();
            release(entry, kind);
        }
    }

    private void setL2Entry(long l2Offset, int l2Index, long value) throws IOException {
        ByteBuffer e = ByteBuffer.allocate(8).putLong(0, value);
        writeHost(l2Offset + (long) l2Index * 8, e);
        l2Table(l2Offset)[l2Index] = value;
    }

    /** Drops one reference to each host cluster an old entry used. */
    private void release(long entry, Kind kind) throws IOException {
        long start;
        long bytes;
        if (kind == Kind.COMPRESSED) {
            int x = 62 - (clusterBits - 8);
            start = entry & ((1L << x) - 1) & ~511L;
            bytes = (((entry & ~(COPIED | COMPRESSED)) >>> x) + 1) * 512;
        } else {
            start = entry & OFFSET_MASK;
            bytes = clusterSize;
        }
        for (long c = start & ~(clusterSize - 1); c < start + bytes; c += clusterSize) {
            long r = refcount(c);
            if (r > 0) {
                setRefcount(c, r - 1);
            }
        }
    }

    /**
     * A cluster for new data or a new table, its refcount already 1 and durable: from the reserve, which
     * is refilled, with one fdatasync, by a batch of {@link #RESERVE_BYTES}.
     */
    private long allocateCluster() throws IOException {
        if (reserved.isEmpty()) {
            long batch = Math.max(1, RESERVE_BYTES >> clusterBits);
            long end = 0;
            for (long i = 0; i < batch; i++) {
                long c = claimCluster();
                setRefcount(c, 1);
                reserved.add(c);
                end = Math.max(end, c + clusterSize);
            }
            // The file covers the batch (sparsely): were it to end short of a counted cluster, qemu-img
            // check would not see that cluster as leaked, and -r leaks could not give it back.
            if (file.size() < end) {
                writeHost(end - 1, ByteBuffer.allocate(1));
            }
            sync();
        }
        return reserved.poll();
    }

    /** A free cluster at or past the end of the file (freed clusters are never reused), not yet counted. */
    private long claimCluster() throws IOException {
        for (int tries = 0; tries < 1 << 16; tries++) {
            long c = nextFree;
            if (c > OFFSET_MASK - clusterSize) {
                throw new DiskImageException(path + ": image is full (host offsets past 2^56)");
            }
            nextFree += clusterSize;
            if (refcount(c) == 0) {
                return c;
            }
        }
        throw new DiskImageException(path + ": refcounts claim clusters past the end of the file");
    }

    /** The refcount of the host cluster at {@code hostOffset}. */
    long refcount(long hostOffset) throws IOException {
        long cluster = hostOffset >>> clusterBits;
        long perBlock = 1L << (clusterBits + 3 - refcountOrder);
        long index = cluster / perBlock;
        if (index >= refcountTable.length) {
            return 0;
        }
        long block = refcountBlock(index);
        if (block == 0) {
            return 0;
        }
        return getBits(block, cluster % perBlock);
    }

    private long refcountBlock(long index) throws IOException {
        long block = refcountTable[(int) index] & ~511L;
        if (block == 0) {
            return 0;
        }
        if ((block & (clusterSize - 1)) != 0 || block < 0 || block > file.size() - clusterSize) {
            throw new DiskImageException(path + ": refcount block at " + Long.toUnsignedString(block) + " is not a cluster inside the file");
        }
        return block;
    }

    /** Sets the refcount of the host cluster at {@code hostOffset}, making its refcount block if need be. */
    private void setRefcount(long hostOffset, long value) throws IOException {
        setRefcount(hostOffset, value, 0);
    }

    private void setRefcount(long hostOffset, long value, int depth) throws IOException {
        long cluster = hostOffset >>> clusterBits;
        long perBlock = 1L << (clusterBits + 3 - refcountOrder);
        long index = cluster / perBlock;
        if (index >= refcountTable.length) {
            throw new DiskImageException(path + ": refcount table is full (growing it is not implemented); "
                    + "qemu-img convert the image to larger clusters");
        }
        long block = refcountBlock(index);
        if (block == 0) {
            if (depth > 4) {
                throw new DiskImageException(path + ": refcount blocks cannot be placed");
            }
            block = claimCluster();
            ByteBuffer zeros = ByteBuffer.allocate((int) clusterSize);
            writeHost(block, zeros);
            long blockCluster = block >>> clusterBits;
            if (blockCluster / perBlock == index) {
                putBits(block, blockCluster % perBlock, 1); // the block counts itself
            } else {
                setRefcount(block, 1, depth + 1);
            }
            sync(); // the block is whole on disk before the table points at it
            ByteBuffer e = ByteBuffer.allocate(8).putLong(0, block);
            writeHost(refcountTableOffset + index * 8, e);
            refcountTable[(int) index] = block;
            metadata.add(block);
        }
        putBits(block, cluster % perBlock, value);
    }

    /** Entry {@code i} of the refcount block at {@code block}: refcount_bits wide, big-endian, packed LSB first below a byte. */
    private long getBits(long block, long i) throws IOException {
        int bits = 1 << refcountOrder;
        if (bits < 8) {
            ByteBuffer b = ByteBuffer.allocate(1);
            readHost(block + i * bits / 8, b);
            return ((b.get(0) & 0xff) >>> (int) (i * bits % 8)) & ((1 << bits) - 1);
        }
        ByteBuffer b = ByteBuffer.allocate(bits / 8);
        readHost(block + i * (bits / 8), b);
        return switch (bits) {
            case 8 -> b.get(0) & 0xffL;
            case 16 -> b.getShort(0) & 0xffffL;
            case 32 -> b.getInt(0) & 0xffff_ffffL;
            default -> b.getLong(0);
        };
    }

    private void putBits(long block, long i, long value) throws IOException {
        int bits = 1 << refcountOrder;
        if (bits < 64 && value >= 1L << bits) {
            throw new DiskImageException(path + ": refcount " + value + " does not fit in " + bits + " bits");
        }
        if (bits < 8) {
            ByteBuffer b = ByteBuffer.allocate(1);
            long at = block + i * bits / 8;
            readHost(at, b);
            int shift = (int) (i * bits % 8);
            int mask = ((1 << bits) - 1) << shift;
            b.put(0, (byte) ((b.get(0) & ~mask) | ((int) value << shift)));
            writeHost(at, b.clear());
            return;
        }
        ByteBuffer b = ByteBuffer.allocate(bits / 8);
        switch (bits) {
            case 8 -> b.put(0, (byte) value);
            case 16 -> b.putShort(0, (short) value);
            case 32 -> b.putInt(0, (int) value);
            default -> b.putLong(0, value);
        }
        writeHost(block + i * (bits / 8), b);
    }

    private void writeHost(long hostOffset, ByteBuffer src) throws IOException {
        writeFully(file, src, hostOffset);
    }

    /** fdatasync: data and size, not timestamps. */
    private void sync() throws IOException {
        file.force(false);
        syncs++;
    }

    long syncs() {
        return syncs;
    }

    @Override
    public void flush() throws IOException {
        if (!readOnly) {
            sync();
        }
    }

    private void checkWritable() throws IOException {
        if (readOnly) {
            throw new IOException(path + ": image is read-only");
        }
    }

    private void checkRange(long offset, long length) throws IOException {
        if (offset < 0 || length < 0 || offset > size || length > size - offset) {
            throw new IOException(path + ": " + length + " bytes at " + offset + " are outside the disk (" + size + " bytes)");
        }
    }

    private long alignUp(long v) {
        return (v + clusterSize - 1) & ~(clusterSize - 1);
    }

    /**
     * Gives back the reserved clusters nothing uses: their refcounts go back to 0, so a closed image checks
     * clean. A crash before this leaves them leaked, which is harmless.
     */
    private void releaseReserve() throws IOException {
        if (readOnly || reserved.isEmpty()) {
            return;
        }
        long end = file.size();
        java.util.TreeSet<Long> unused = new java.util.TreeSet<>(reserved);
        for (long c : unused) {
            setRefcount(c, 0);
        }
        reserved.clear();
        // The file ends where the last cluster in use does: the reserve's unused tail is cut off.
        while (!unused.isEmpty() && unused.last() + clusterSize >= end) {
            end = Math.min(end, unused.pollLast());
        }
        if (end < file.size()) {
            file.truncate(end);
        }
        sync();
    }

    @Override
    public void close() throws IOException {
        try {
            releaseReserve();
        } finally {
            closeFiles();
        }
    }

    private void closeFiles() throws IOException {
        try {
            file.close();
        } finally {
            if (backing != null) {
                backing.close();
            }
        }
    }

    /** Reads {@code dst} from its position to its limit at {@code position}; the file must have the bytes. */
    private static void readFully(FileChannel f, ByteBuffer dst, long position) throws IOException {
        int p0 = dst.position();
        while (dst.hasRemaining()) {
            if (f.read(dst, position + dst.position() - p0) < 0) {
                throw new DiskImageException("file ends at " + (position + dst.position() - p0) + " inside a table");
            }
        }
    }

    private static void writeFully(FileChannel f, ByteBuffer src, long position) throws IOException {
        int p0 = src.position();
        while (src.hasRemaining()) {
            f.write(src, position + src.position() - p0);
        }
    }

    @Override
    public String toString() {
        return "qcow2 v" + version + " " + path + " (" + size + " bytes, " + clusterSize + "-byte clusters"
                + (backing == null ? "" : ", backed by " + backing.format().qemuName()) + ")";
    }
}
