package vessel.display.vnc;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import vessel.devices.input.InputSink;

/** Records what a display server sends the guest, as text: "key 0x61 down", "pointer 10,20 buttons 1 of 320x200". */
final class RecordingInputSink implements InputSink {
    final List<String> events = new CopyOnWriteArrayList<>();

    @Override
    public void key(int keysym, boolean down) {
        events.add(String.format("key 0x%x %s", keysym, down ? "down" : "up"));
    }

    @Override
    public void pointer(int x, int y, int buttons, int width, int height) {
        events.add("pointer " + x + "," + y + " buttons " + buttons + " of " + width + "x" + height);
    }

    /** Waits up to 5 s for {@code n} events. */
    List<String> await(int n) throws InterruptedException {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (events.size() < n && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        return List.copyOf(events);
    }
}
