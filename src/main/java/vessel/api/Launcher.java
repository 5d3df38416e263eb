package vessel.api;

import java.io.IOException;
import java.nio.file.Path;

import vessel.vmm.ConfigException;
import vessel.vmm.VirtualMachine;
import vessel.vmm.VmConfig;

/**
 * What the API needs from the process hosting it: the one path from a {@link VmConfig} to a running VM
 * on this process's console, and the logging set-up. The CLI implements it, as it does for {@code vessel run}.
 */
public interface Launcher {
    /** Creates the VM and starts its vCPUs. */
    VirtualMachine launch(VmConfig config) throws ConfigException, IOException;

    /**
     * Applies Firecracker's logger settings: {@code level} is one of error, warning, info, debug, trace, off;
     * {@code path} a file or FIFO for the log lines, or null to keep them where they go now.
     */
    void configureLogging(String level, Path path, boolean showLevel, boolean showOrigin) throws IOException;

    /**
     * Restores a snapshot (PUT /snapshot/load): its vCPUs run unless {@code paused}; with
     * {@code trackDirtyPages} it can take diff snapshots; {@code overrides} names other TAPs (the load's
     * network_overrides), disks or vsock socket. A launcher that cannot says so.
     */
    default VirtualMachine restore(Path state, Path memory, boolean paused, boolean trackDirtyPages,
                                   vessel.vmm.RestoreOverrides overrides) throws ConfigException, IOException {
        throw new ConfigException("this VMM cannot load snapshots");
    }
}
