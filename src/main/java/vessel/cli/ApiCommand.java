package vessel.cli;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

import vessel.api.ApiException;
import vessel.api.ApiServer;
import vessel.api.Launcher;
import vessel.api.Vmm;
import vessel.vmm.ConfigException;
import vessel.vmm.VirtualMachine;
import vessel.vmm.VmConfig;

/**
 * {@code vessel api} (or Firecracker's own command line): one microVM per process, configured through the
 * API socket or a config file, booted on InstanceStart through the same {@link GuestSession} as
 * {@code vessel run}. The process ends with the guest's status; on SIGTERM the shutdown hooks stop the
 * guest, write a last metrics line and remove the socket.
 */
final class ApiCommand {
    private ApiCommand() {}

    static int run(List<String> args) throws UsageException, IOException, InterruptedException {
        ApiOptions o = ApiOptions.parse(args);
        if (o.help) {
            System.out.println(ApiOptions.HELP);
            return 0;
        }
        if (o.version) {
            System.out.println("vessel " + Vmm.version());
            return 0;
        }
        // The filters are built and installed on a thread of their own while this one gets the rest ready;
        // nothing is served, no VM made and no guest run before they are in (filters.await()).
        SeccompOption.Pending filters = SeccompOption.start(o.seccomp);
        Logging.configure(o.level, o.logPath, o.showLevel, o.showOrigin);
        byte[] configFile = o.configFile == null ? null : readConfigFile(o.configFile);
        vessel.display.vnc.VncServer.Options vncOptions = o.display.vncOptions();
        if (o.display.web != null) {
            throw new UsageException("--web is for vessel run; with the API, use --vnc");
        }
        GuestSession session = new GuestSession(new FileOutputStream(FileDescriptor.out));
        vessel.devices.display.DisplayMode displayMode = o.display.modeForVm();
        Launcher launcher = new Launcher() {
            @Override
            public VirtualMachine launch(VmConfig config) throws ConfigException, IOException {
                return session.start(displayMode == null ? config : config.withDisplay(displayMode).validate());
            }

            @Override
            public VirtualMachine restore(Path state, Path memory, boolean paused, boolean trackDirtyPages,
                                          vessel.vmm.RestoreOverrides overrides) throws ConfigException, IOException {
                return session.restore(state, memory, paused, trackDirtyPages, overrides);
            }

            @Override
            public void configureLogging(String level, Path path, boolean showLevel, boolean showOrigin)
                    throws IOException {
                try {
                    Logging.configure(level, path, showLevel, showOrigin);
                } catch (UsageException e) {
                    throw new IOException(e.getMessage());
                }
            }
        };
        Vmm vmm = new Vmm(o.id, launcher, o.mmdsSizeLimit);
        ApiServer server = null;
        Thread cleanup = null;
        vessel.display.vnc.VncServer vnc = null;
        try {
            if (o.metricsPath != null) {
                vmm.configureMetrics(o.metricsPath);
            }
            if (vncOptions != null) {
                filters.await(); // a client can reach the VNC server as soon as it listens
            }
            vnc = o.display.startVnc(vncOptions, session::currentDisplay, session.input());
            if (!o.noApi) {
                server = ApiServer.start(o.apiSock, vmm, o.maxPayload, filters::await);
            }
            filters.await(); // a no-op when the API server or VNC waited already
            ApiServer serving = server;
            cleanup = new Thread(() -> {
                if (serving != null) {
                    serving.close();
                }
                vmm.close();
            }, "api-cleanup");
            Runtime.getRuntime().addShutdownHook(cleanup);
            if (configFile != null) {
                vmm.bootFromConfigFile(configFile);
            }
            vmm.awaitStart();
            return Main.exitStatus(session.awaitEnd());
        } catch (ApiException e) {
            String where = configFile != null ? "config file " + o.configFile + ": " : "";
            System.err.println("vessel: " + where + e.getMessage());
            return e.hostFailure() ? Main.EXIT_ERROR : Main.EXIT_USAGE;
        } catch (ConfigException e) {
            System.err.println("vessel: " + e.getMessage());
            return Main.EXIT_USAGE;
        } finally {
            if (vnc != null) {
                vnc.close();
            }
            if (server != null) {
                server.close();
            }
            vmm.close();
            if (cleanup != null) {
                try {
                    Runtime.getRuntime().removeShutdownHook(cleanup);
                } catch (IllegalStateException ignored) {
                    // already shutting down: the hook is running or has run
                }
            }
        }
    }

    private static byte[] readConfigFile(Path file) throws UsageException {
        try {
            return Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new UsageException("config file " + file + " does not exist");
        } catch (AccessDeniedException e) {
            throw new UsageException("config file " + file + " cannot be read (permission denied)");
        } catch (IOException e) {
            throw new UsageException("config file " + file + " cannot be read: " + e.getMessage());
        }
    }
}
