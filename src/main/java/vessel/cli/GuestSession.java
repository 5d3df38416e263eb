package vessel.cli;

import java.io.IOException;
import java.io.OutputStream;
import java.util.concurrent.atomic.AtomicReference;

import vessel.vmm.ConfigException;
import vessel.vmm.VirtualMachine;
import vessel.vmm.VmConfig;
import vessel.vmm.VmExit;

/**
 * The one path from a {@link VmConfig} to a guest running on this process's console, for {@code vessel run}
 * and for the API's InstanceStart alike: create, start, raw terminal and keystrokes to the guest, wait for
 * the end (booting again on a reset when the config says restart), stop the guest when the process is
 * asked to end (SIGTERM runs the shutdown hook).
 */
final class GuestSession {
    private final OutputStream console;
    private final AtomicReference<VirtualMachine> current = new AtomicReference<>();
    private Terminal terminal;
    private boolean inputStarted;

    GuestSession(OutputStream console) {
        this.console = console;
        Runtime.getRuntime().addShutdownHook(new Thread(this::stop, "stop-on-signal"));
    }

    /** Creates and starts the guest; its console input starts with the first guest of the process. */
    synchronized VirtualMachine start(VmConfig config) throws ConfigException, IOException {
        return start(config, false);
    }

    /** As {@link #start(VmConfig)}; with {@code paused}, the vCPUs wait before their first instruction. */
    synchronized VirtualMachine start(VmConfig config, boolean paused) throws ConfigException, IOException {
        return run(VirtualMachine.create(config, console), paused);
    }

    /** Restores a snapshot (state file and memory file) and runs it, or leaves it paused with {@code paused}. */
    synchronized VirtualMachine restore(java.nio.file.Path state, java.nio.file.Path memory, boolean paused)
            throws ConfigException, IOException {
        return restore(state, memory, paused, false, vessel.vmm.RestoreOverrides.NONE);
    }

    /** As {@link #restore(java.nio.file.Path, java.nio.file.Path, boolean)}; with tracking, diffs can follow. */
    synchronized VirtualMachine restore(java.nio.file.Path state, java.nio.file.Path memory, boolean paused,
                                        boolean trackDirtyPages, vessel.vmm.RestoreOverrides overrides)
            throws ConfigException, IOException {
        VirtualMachine vm = VirtualMachine.restore(state, memory, console, overrides);
        if (trackDirtyPages) {
            try {
                vm.trackDirtyPages();
            } catch (IOException | RuntimeException e) {
                vm.close();
                throw e;
            }
        }
        return run(vm, paused);
    }

    private VirtualMachine run(VirtualMachine vm, boolean paused) throws IOException {
        try {
            if (terminal == null) {
                terminal = Terminal.rawIfInteractive();
            }
            current.set(vm);
            vm.start(paused);
            if (!inputStarted) {
                ConsoleInput.start(current, terminal.interactive());
                inputStarted = true;
            }
            releaseBootGarbage();
            return vm;
        } catch (RuntimeException e) {
            current.set(null);
            vm.close();
            throw e;
        }
    }

    /**
     * Booting leaves the kernel and initrd files and the kernel's decompressed copy (60-80 MiB for
     * Debian's) as garbage in the heap's old generation, which the JVM keeps committed and resident
     * for the whole life of the VM. One full collection now, under scripts/jvm-options.sh's heap
     * options (-XX:-ShrinkHeapInSteps, MaxHeapFreeRatio), hands those pages back to the OS at once:
     * measured in the nested VM, the process's anonymous memory went from 205 to 136 MiB. The process
     * belongs to Vessel here (CLI and API); embedders of the library decide for themselves.
     */
    private static void releaseBootGarbage() {
        System.gc();
    }

    /**
     * Waits for the started guest to end and releases it; a reset with {@link VmConfig.RebootAction#RESTART}
     * boots the same configuration again, as a PC's reset button does. Returns how the last guest ended.
     */
    VmExit awaitEnd() throws ConfigException, IOException, InterruptedException {
        try {
            while (true) {
                VirtualMachine vm = current.get();
                if (vm == null) {
                    throw new IllegalStateException("no guest started");
                }
                VmExit exit;
                try (vm) {
                    exit = vm.awaitExit();
                }
                current.compareAndSet(vm, null);
                if (exit.reason() == VmExit.Reason.RESET && vm.config().onReboot() == VmConfig.RebootAction.RESTART) {
                    start(vm.config());
                    continue;
                }
                return exit;
            }
        } finally {
            synchronized (this) {
                if (terminal != null) {
                    terminal.close();
                }
            }
        }
    }

    /** KVM exits of the running guest so far, summed over its vCPUs and exit reasons; 0 between guests. */
    long exitCount() {
        VirtualMachine vm = current.get();
        long sum = 0;
        if (vm != null) {
            for (long c : vm.exitCounts()) {
                sum += c;
            }
        }
        return sum;
    }

    /** The running guest's display, or null (no guest, or one without a display): what display servers show. */
    vessel.devices.display.Display currentDisplay() {
        VirtualMachine vm = current.get();
        return vm == null ? null : vm.display().orElse(null);
    }

    /** Bytes for the running guest's serial console (the browser console's terminal); dropped between guests. */
    void sendConsoleInput(byte[] data, int off, int len) throws InterruptedException {
        VirtualMachine vm = current.get();
        if (vm != null) {
            vm.sendConsoleInput(data, off, len);
        }
    }

    /** Where display servers send keys and pointer moves: the running guest's input devices. */
    vessel.devices.input.InputSink input() {
        return new vessel.devices.input.InputSink() {
            @Override
            public void key(int keysym, boolean down) {
                VirtualMachine vm = current.get();
                if (vm != null) {
                    vm.input().key(keysym, down);
                }
            }

            @Override
            public void pointer(int x, int y, int buttons, int width, int height) {
                VirtualMachine vm = current.get();
                if (vm != null) {
                    vm.input().pointer(x, y, buttons, width, height);
                }
            }
        };
    }

    /** Asks the running guest, if any, to stop; {@link #awaitEnd()} then returns. */
    void stop() {
        VirtualMachine vm = current.get();
        if (vm != null) {
            vm.stop();
        }
    }
}
