package vessel.vmm;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;

import vessel.devices.virtio.VirtioPmem;
import vessel.kvm.KvmException;
import vessel.kvm.UserMemoryRegion;
import vessel.kvm.VmFd;
import vessel.sys.Errno;
import vessel.sys.Libc;
import vessel.sys.SysException;

/**
 * A virtio-pmem device's backing file, mapped for the guest: MAP_SHARED (the guest's stores land in the
 * file's page cache, so the host sees them at once and an fdatasync makes them durable), or MAP_PRIVATE and
 * a read-only KVM slot for a read-only device. Linux needs the range in whole 2 MiB blocks, so a file of
 * another size is mapped over a 2 MiB-rounded reservation of anonymous memory: the guest sees zeros past
 * the file's end, and what it writes there never reaches the file. Closed with the other device resources,
 * once the vCPUs have stopped.
 */
final class PmemMapping implements AutoCloseable, VirtioPmem.Backing {
    /** The largest backing file: keeps every range well inside the guest's physical address bits. */
    static final long MAX_SIZE = 64L << 30;

    private final PmemConfig config;
    private final FileChannel channel;
    private final MemorySegment mapping;
    private final long fileSize;
    private boolean closed;

    private PmemMapping(PmemConfig config, FileChannel channel, MemorySegment mapping, long fileSize) {
        this.config = config;
        this.channel = channel;
        this.mapping = mapping;
        this.fileSize = fileSize;
    }

    /** Opens and maps {@code config}'s file; each way that fails is one line naming the device and file. */
    static PmemMapping open(PmemConfig config) throws ConfigException {
        String what = "pmem '" + config.id() + "': " + config.path();
        if (!Files.exists(config.path())) {
            throw new ConfigException(what + " does not exist");
        }
        if (!Files.isRegularFile(config.path())) {
            throw new ConfigException(what + " is not a regular file");
        }
        long size;
        try {
            size = Files.size(config.path());
        } catch (IOException e) {
            throw new ConfigException(what + " cannot be read: " + e.getMessage());
        }
        if (size == 0) {
            throw new ConfigException(what + " is empty: a pmem device needs a file of at least one byte "
                    + "(the guest sees its size rounded up to 2 MiB)");
        }
        if (size > MAX_SIZE) {
            throw new ConfigException(what + " is " + size + " bytes; a pmem file is at most " + (MAX_SIZE >> 30) + " GiB");
        }
        long rounded = (size + VirtioPmem.ALIGNMENT - 1) & -VirtioPmem.ALIGNMENT;
        int prot = config.readOnly() ? Libc.PROT_READ : Libc.PROT_READ | Libc.PROT_WRITE;
        FileChannel channel = null;
        MemorySegment reserved = null;
        int fd = -1;
        try {
            channel = config.readOnly() ? FileChannel.open(config.path(), StandardOpenOption.READ)
                    : FileChannel.open(config.path(), StandardOpenOption.READ, StandardOpenOption.WRITE);
            fd = Libc.open(config.path().toString(), config.readOnly() ? Libc.O_RDONLY : Libc.O_RDWR, 0);
            reserved = Libc.mmap(rounded, prot, Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_NORESERVE, -1, 0);
            Libc.mmapOver(reserved, size, prot, (config.readOnly() ? Libc.MAP_PRIVATE : Libc.MAP_SHARED)
                    | Libc.MAP_NORESERVE, fd, 0);
            PmemMapping m = new PmemMapping(config, channel, reserved, size);
            channel = null;
            reserved = null;
            return m;
        } catch (SysException e) {
            throw new ConfigException(what + " cannot be mapped: " + (e.errno() == Errno.EACCES || e.errno() == Errno.EPERM
                    ? "permission denied" : e.getMessage()));
        } catch (java.nio.file.AccessDeniedException e) {
            throw new ConfigException(what + (config.readOnly() ? " cannot be read (permission denied)"
                    : " cannot be opened read-write (permission denied; add ,ro for a read-only device)"));
        } catch (IOException e) {
            throw new ConfigException(what + " cannot be opened: " + e.getMessage());
        } finally {
            if (fd >= 0) {
                Libc.close(fd); // the mapping holds the file
            }
            if (reserved != null) {
                Libc.munmap(reserved);
            }
            if (channel != null) {
                try {
                    channel.close();
                } catch (IOException ignored) {
                    // unwinding
                }
            }
        }
    }

    PmemConfig config() {
        return config;
    }

    /** Bytes the guest sees: the file's size rounded up to 2 MiB. */
    long size() {
        return mapping.byteSize();
    }

    long fileSize() {
        return fileSize;
    }

    /** Gives the mapping to KVM as slot {@code slot} at guest-physical {@code gpa}. */
    void mapInto(VmFd vm, int slot, long gpa) throws KvmException {
        vm.setUserMemoryRegion(slot, gpa, mapping, config.readOnly() ? UserMemoryRegion.READONLY : 0);
    }

    /** The device's FLUSH: the guest's stores are in the page cache already; this makes them durable. */
    @Override
    public void flush() throws IOException {
        if (!config.readOnly()) {
            channel.force(false);
        }
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            Libc.munmap(mapping);
            try {
                channel.close();
            } catch (IOException ignored) {
                // nothing was left to write: flushes happened on request
            }
        }
    }
}
