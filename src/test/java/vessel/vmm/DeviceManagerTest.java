package vessel.vmm;

import java.io.ByteArrayOutputStream;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import vessel.devices.Bus;
import vessel.devices.legacy.DebugExit;
import vessel.devices.legacy.Uart16550;
import vessel.sys.EventFd;
import vessel.testkit.TestMemory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The device side of a VM without KVM: the legacy devices on their ports, state by name, lookups by id. */
class DeviceManagerTest {
    @TempDir
    Path dir;

    private DeviceManager make(boolean debugExit, List<VmExit> exits, ByteArrayOutputStream console) throws Exception {
        Path kernel = Files.write(dir.resolve("guest.bin"), new byte[] {(byte) 0xf4});
        VmConfig config = VmConfig.builder().kernel(kernel).memory("2M").debugExit(debugExit).build();
        List<EventFd> irqs = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            irqs.add(new EventFd(0));
        }
        return new DeviceManager(config, TestMemory.of(Arena.ofAuto(), 2 << 20), 1, false, irqs, console,
                new Bus("port I/O"), new Bus("MMIO"), new EventLoop(), null, new ArrayList<>(), List.of(),
                new DeviceManager.Platform() {
                    @Override
                    public void exit(VmExit e) {
                        exits.add(e);
                    }

                    @Override
                    public void suspend() {
                        exits.add(null);
                    }
                });
    }

    @Test
    void legacyDevicesSitOnTheirPortsAndTheirStateIsListedInRestoreOrder() throws Exception {
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        try (DeviceManager devices = make(false, new ArrayList<>(), console)) {
            devices.pio().write(Uart16550.COM1_PORT, 1, 'A');
            assertEquals("A", console.toString());
            assertEquals(List.of("COM1", "i8042", "rtc"), List.copyOf(devices.stateful().keySet()));
            assertEquals(List.of(), devices.metrics());
            assertNull(devices.balloon());
            assertTrue(devices.displayAdapter().isEmpty());
        }
    }

    @Test
    void theDebugExitPortEndsTheVmOnlyWhenConfigured() throws Exception {
        List<VmExit> exits = new ArrayList<>();
        try (DeviceManager devices = make(true, exits, new ByteArrayOutputStream())) {
            devices.pio().write(DebugExit.DEFAULT_PORT, 1, 3);
            assertEquals(1, exits.size());
            assertEquals(VmExit.Reason.DEBUG_EXIT, exits.getFirst().reason());
        }
        exits.clear();
        try (DeviceManager devices = make(false, exits, new ByteArrayOutputStream())) {
            devices.pio().write(DebugExit.DEFAULT_PORT, 1, 3);
            assertEquals(List.of(), exits);
        }
    }

    @Test
    void aDeviceNotThereIsOneLineNamingIt() throws Exception {
        try (DeviceManager devices = make(false, new ArrayList<>(), new ByteArrayOutputStream())) {
            ConfigException e = assertThrows(ConfigException.class,
                    () -> devices.replaceDrive("rootfs", dir.resolve("other.img")));
            assertEquals("no drive with id rootfs", e.getMessage());
        }
    }
}
