package vessel.vmm;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** A Linux guest's shell on its serial console, as the Linux-guest tests drive it: type a line, wait for text. */
record GuestShell(VirtualMachine vm, GuestRunTest.Console console) {
    /** Types {@code text} on the console (ASCII; end a command with a newline). */
    void type(String text) throws InterruptedException {
        byte[] b = text.getBytes(StandardCharsets.US_ASCII);
        vm.sendConsoleInput(b, 0, b.length);
    }

    /** Waits up to {@code minutes} for {@code text} on the console; fails with the console's tail otherwise. */
    void await(String text, long minutes) throws InterruptedException {
        long deadline = System.nanoTime() + minutes * 60_000_000_000L;
        while (!console.text().contains(text) && System.nanoTime() < deadline && vm.state() != VirtualMachine.State.ENDED) {
            Thread.sleep(200);
        }
        String out = console.text();
        assertTrue(out.contains(text), "no '" + text + "'; console:\n" + out.substring(Math.max(0, out.length() - 3000)));
    }
}
