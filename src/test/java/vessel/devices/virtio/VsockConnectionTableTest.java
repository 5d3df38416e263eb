package vessel.devices.virtio;

import java.util.HashMap;
import java.util.Map;
import java.util.Random;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The primitive-keyed connection table against a HashMap, over random puts and removes near its capacity. */
class VsockConnectionTableTest {
    @Test
    void agreesWithAHashMapThroughPutsAndRemovesThatShiftRuns() {
        VsockConnectionTable table = new VsockConnectionTable(64);
        Map<Long, VsockConnection> model = new HashMap<>();
        Random random = new Random(15);
        for (int step = 0; step < 200_000; step++) {
            // Few distinct keys, so runs collide and removals shift them back.
            long key = VsockConnection.key(random.nextInt(3), random.nextInt(40));
            if (random.nextBoolean() && (model.size() < 64 || model.containsKey(key))) {
                VsockConnection c = new VsockConnection(null, VsockConnection.State.ESTABLISHED);
                table.put(key, c);
                model.put(key, c);
            } else {
                VsockConnection c = model.get(key);
                VsockConnection other = new VsockConnection(null, VsockConnection.State.ESTABLISHED);
                table.remove(key, other); // not the one filed: nothing happens
                if (c != null) {
                    table.remove(key, c);
                    model.remove(key);
                }
            }
            assertEquals(model.size(), table.size());
            long probe = VsockConnection.key(random.nextInt(3), random.nextInt(40));
            assertSame(model.get(probe), table.get(probe));
        }
        for (Map.Entry<Long, VsockConnection> e : model.entrySet()) {
            assertSame(e.getValue(), table.get(e.getKey()));
        }
        assertEquals(model.size(), table.values().length);
        assertNull(table.get(VsockConnection.key(-1, -1)));
    }

    @Test
    void refusesMoreThanItsCapacity() {
        VsockConnectionTable table = new VsockConnectionTable(2);
        table.put(1, new VsockConnection(null, VsockConnection.State.ESTABLISHED));
        table.put(2, new VsockConnection(null, VsockConnection.State.ESTABLISHED));
        assertThrows(IllegalStateException.class,
                () -> table.put(3, new VsockConnection(null, VsockConnection.State.ESTABLISHED)));
    }
}
