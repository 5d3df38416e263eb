package vessel.devices.virtio;

import java.util.ArrayList;
import java.util.List;

/** A VirtioInterrupt that remembers what it was asked to send. */
final class RecordingInterrupt implements VirtioInterrupt {
    final List<Integer> queues = new ArrayList<>();
    final List<String> resets = new ArrayList<>();
    int configs;

    @Override
    public void queue(int index) {
        queues.add(index);
    }

    @Override
    public void config() {
        configs++;
    }

    @Override
    public void needsReset(String why) {
        resets.add(why);
    }
}
