package vessel.cli;

import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.concurrent.atomic.AtomicReference;

import vessel.vmm.VirtualMachine;

/**
 * Copies the user's keystrokes to the guest's serial console. On an interactive terminal, Ctrl-A is
 * an escape: Ctrl-A x quits, Ctrl-A Ctrl-A sends one Ctrl-A (QEMU's keys).
 */
final class ConsoleInput implements Runnable {
    static final int ESCAPE = 0x01;

    /** The VM keystrokes go to; replaced when a reboot restarts the guest. */
    private final AtomicReference<VirtualMachine> vm;
    private final boolean escapes;
    private final InputStream in;

    private ConsoleInput(AtomicReference<VirtualMachine> vm, boolean escapes) {
        this.vm = vm;
        this.escapes = escapes;
        this.in = new FileInputStream(FileDescriptor.in);
    }

    /** Starts the one input thread of this process, feeding whichever VM {@code vm} holds. */
    static void start(AtomicReference<VirtualMachine> vm, boolean escapes) {
        Thread.ofPlatform().name("console-input").daemon(true).start(new ConsoleInput(vm, escapes));
    }

    @Override
    public void run() {
        byte[] buf = new byte[256];
        byte[] out = new byte[256];
        boolean afterEscape = false;
        try {
            int n;
            while ((n = in.read(buf)) > 0) {
                int len = 0;
                for (int i = 0; i < n; i++) {
                    int c = buf[i] & 0xff;
                    if (escapes && afterEscape) {
                        afterEscape = false;
                        if (c == 'x' || c == 'X') {
                            VirtualMachine current = vm.get();
                            if (current != null) {
                                current.stop();
                            }
                            return;
                        }
                        if (c != ESCAPE) {
                            out[len++] = (byte) ESCAPE; // not an escape after all: pass both on
                        }
                        out[len++] = (byte) c;
                    } else if (escapes && c == ESCAPE) {
                        afterEscape = true;
                    } else {
                        out[len++] = (byte) c;
                    }
                }
                VirtualMachine current = vm.get();
                if (current != null) {
                    current.sendConsoleInput(out, 0, len);
                }
            }
        } catch (IOException | InterruptedException e) {
            // stdin closed or the VM is ending: nothing more to forward
        }
    }
}
