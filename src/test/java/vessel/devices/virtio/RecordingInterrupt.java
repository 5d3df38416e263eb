package vessel.devices.virtio;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** A VirtioInterrupt that remembers what it was asked to send, from any thread (devices with threads of their own). */
public final class RecordingInterrupt implements VirtioInterrupt {
    public final List<Integer> queues = Collections.synchronizedList(new ArrayList<>());
    public final List<String> resets = Collections.synchronizedList(new ArrayList<>());
    public volatile int configs;

    @Override
    public void queue(int index) {
        queues.add(index);
    }

    @Override
    public synchronized void config() {
        configs++;
    }

    @Override
    public void needsReset(String why) {
        resets.add(why);
    }
}
