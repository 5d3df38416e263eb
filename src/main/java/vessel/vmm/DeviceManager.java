package vessel.vmm;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

import vessel.devices.Bus;
import vessel.devices.DeviceMetrics;
import vessel.devices.IrqLine;
import vessel.devices.Snapshottable;
import vessel.devices.display.BochsDisplay;
import vessel.devices.display.Display;
import vessel.devices.input.InputSink;
import vessel.devices.firmware.FirmwareDebugPort;
import vessel.devices.legacy.AcpiPm1Device;
import vessel.devices.legacy.AcpiPowerDevice;
import vessel.devices.legacy.CmosRtc;
import vessel.devices.legacy.DebugExit;
import vessel.devices.legacy.I8042;
import vessel.devices.legacy.Uart16550;
import vessel.devices.virtio.VirtioBalloon;
import vessel.devices.virtio.VirtioMem;
import vessel.kvm.IoEventFd;
import vessel.kvm.IrqFd;
import vessel.kvm.VmFd;
import vessel.memory.GuestMemory;
import vessel.sys.EventFd;
import vessel.sys.SysException;

/**
 * A VM's devices and the resources they hold: the port-I/O and MMIO buses, the legacy PC devices (COM1,
 * the i8042, the RTC, ACPI power), their interrupt lines, the PCI side with its virtio functions and
 * the backends behind them, the event loop that serves their queues, and the devices with state to
 * save, by name. {@link VirtualMachine} keeps the vCPUs, guest memory and the lifecycle, and reaches
 * devices only through here; its assembly ({@code create}, {@code restore}) decides what is built.
 */
final class DeviceManager implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("vessel.vmm");

    /** What devices ask of the VM they sit in. */
    interface Platform {
        /** The guest asked to end (power off, reset, debug exit). */
        void exit(VmExit e);

        /** The guest entered S3 through the PM1 control register. */
        void suspend();
    }

    private final Bus pio;
    private final Bus mmio;
    private final EventLoop eventLoop;
    /** Null for a VM without PCI (a flat guest with no virtio devices). */
    private final PciDevices pci;
    private final List<VirtioDevices.Made> virtio;
    /** The virtio devices' backends (images, TAPs, sockets), closed before the PCI side. */
    private final List<AutoCloseable> backends;
    /** COM1's, the keyboard's and the mouse's irqfds, then the port-0x80 sink. */
    private final List<EventFd> legacyIrqs;
    private final Uart16550 serial;
    private final I8042 i8042;
    private final AcpiPm1Device pm1;
    private final Map<String, Snapshottable<?>> stateful = new LinkedHashMap<>();
    private BochsDisplay displayAdapter;

    /**
     * Puts the legacy devices on {@code pio} beside what assembly already placed there (PCI), and takes
     * ownership of everything given: {@link #close()} releases it.
     *
     * @param legacyIrqs COM1's, the keyboard's and the mouse's irqfds, then the port-0x80 sink
     * @param firmware   whether firmware boots the guest (the RTC's CMOS then describes the machine)
     */
    DeviceManager(VmConfig config, GuestMemory memory, int cpus, boolean firmware, List<EventFd> legacyIrqs,
                  OutputStream console, Bus pio, Bus mmio, EventLoop eventLoop, PciDevices pci,
                  List<AutoCloseable> backends, List<VirtioDevices.Made> virtio, Platform platform) {
        this.pio = pio;
        this.mmio = mmio;
        this.eventLoop = eventLoop;
        this.pci = pci;
        this.backends = backends;
        this.virtio = List.copyOf(virtio);
        this.legacyIrqs = legacyIrqs;
        this.serial = new Uart16550(irq(legacyIrqs.get(0)), console, new Uart16550.Events() {
            @Override
            public void outputFailed(IOException e) {
                LOG.log(System.Logger.Level.WARNING, "console output failed: " + e.getMessage());
            }
        });
        this.i8042 = new I8042(() -> platform.exit(new VmExit(0, VmExit.Reason.RESET, "guest reset through the i8042")),
                irq(legacyIrqs.get(1)), irq(legacyIrqs.get(2)));
        pio.insert(Uart16550.COM1_PORT, 8, "COM1", serial);
        pio.insert(I8042.BASE_PORT, I8042.LENGTH, "i8042", i8042);
        stateful.put("COM1", serial);
        stateful.put("i8042", i8042);
        // A firmware VM's FADT (a PC's) puts the reset register off the VGA ports (Fadt.PC_RESET_PORT says why).
        pio.insert(firmware ? AcpiPowerDevice.PC_PORT : AcpiPowerDevice.PORT, AcpiPowerDevice.LENGTH, "acpi-power",
                new AcpiPowerDevice(
                () -> platform.exit(new VmExit(0, VmExit.Reason.POWER_OFF, "guest powered off through ACPI (S5)")),
                () -> platform.exit(new VmExit(0, VmExit.Reason.RESET, "guest reset through the ACPI reset register"))));
        this.pm1 = new AcpiPm1Device(new AcpiPm1Device.Sleep() {
            @Override
            public void suspend() {
                platform.suspend();
            }

            @Override
            public void powerOff() {
                platform.exit(new VmExit(0, VmExit.Reason.POWER_OFF, "guest powered off through ACPI (S5)"));
            }
        });
        pio.insert(AcpiPm1Device.PORT, AcpiPm1Device.LENGTH, "acpi-pm1", pm1);
        long low = memory.regions().getFirst().size();
        CmosRtc rtc = new CmosRtc(java.time.Clock.systemUTC(), low, memory.totalSize() - low);
        if (firmware) {
            rtc.setFirmwareFields(cpus);
            pio.insert(FirmwareDebugPort.PORT, 1, "firmware-debug",
                    new FirmwareDebugPort(line -> firmwareLog(line, config, platform)));
        }
        pio.insert(CmosRtc.BASE_PORT, CmosRtc.LENGTH, "rtc", rtc);
        stateful.put("rtc", rtc);
        if (pci != null) {
            stateful.putAll(pci.stateful());
        }
        if (config.debugExit()) {
            pio.insert(DebugExit.DEFAULT_PORT, DebugExit.LENGTH, "debug-exit",
                    new DebugExit(status -> platform.exit(new VmExit(status, VmExit.Reason.DEBUG_EXIT,
                            "guest wrote to the debug-exit port"))));
        }
    }

    /**
     * A line of SeaBIOS's debug log (port 0x402): logged at debug level. Its boot failure ends the VM with
     * an error: SeaBIOS would otherwise wait, reset and fail again, and a reset ends a run with status 0.
     */
    private static void firmwareLog(String line, VmConfig config, Platform platform) {
        LOG.log(System.Logger.Level.DEBUG, () -> "firmware: " + line);
        if (line.startsWith(FirmwareBoot.NO_BOOTABLE_DEVICE)) {
            DriveConfig first = config.drives().getFirst();
            platform.exit(VmExit.error("no bootable device: the firmware found nothing it could boot (drive '"
                    + first.id() + "', " + first.path() + ", was tried: its boot sector gave up or could not be read)"));
        }
    }

    /**
     * The COM1, keyboard and mouse interrupt lines as irqfds, then the port-0x80 sink: the constructor's
     * order. Each is added to {@code made} as it is opened, so a failed assembly closes it.
     */
    static List<EventFd> legacyIrqs(VmFd vm, List<AutoCloseable> made) throws IOException {
        List<EventFd> eventFds = new ArrayList<>();
        for (int gsi : new int[] {Uart16550.COM1_IRQ, I8042.KEYBOARD_IRQ, I8042.AUX_IRQ}) {
            EventFd efd = new EventFd(0);
            made.add(efd);
            eventFds.add(efd);
            vm.irqfd(new IrqFd(efd.fd(), gsi, 0, 0));
        }
        // Port 0x80 is Linux's I/O delay: written constantly, read never. An ioeventfd absorbs the
        // writes in the kernel instead of an exit each.
        EventFd ioDelay = new EventFd(0);
        made.add(ioDelay);
        vm.ioeventfd(new IoEventFd(0, 0x80, 1, ioDelay.fd(), IoEventFd.FLAG_PIO));
        eventFds.add(ioDelay);
        return eventFds;
    }

    private static IrqLine irq(EventFd fd) {
        return () -> {
            try {
                fd.signal();
            } catch (SysException e) {
                LOG.log(System.Logger.Level.WARNING, "interrupt lost: " + e.getMessage());
            }
        };
    }

    Bus pio() {
        return pio;
    }

    Bus mmio() {
        return mmio;
    }

    EventLoop eventLoop() {
        return eventLoop;
    }

    /** The PCI side, or null for a VM without one. */
    PciDevices pci() {
        return pci;
    }

    Uart16550 serial() {
        return serial;
    }

    I8042 i8042() {
        return i8042;
    }

    AcpiPm1Device pm1() {
        return pm1;
    }

    /** Adds a device with state to save, after those already there (a restore puts them back in this order). */
    void addStateful(String name, Snapshottable<?> device) {
        stateful.put(name, device);
    }

    /** The devices with state, by name, in the order they are saved and restored. */
    Map<String, Snapshottable<?>> stateful() {
        return stateful;
    }

    void displayAdapter(BochsDisplay display) {
        this.displayAdapter = display;
    }

    Optional<Display> displayAdapter() {
        return Optional.ofNullable(displayAdapter);
    }

    /**
     * Where a display server sends keys and pointer movement: the i8042's PS/2 keyboard and mouse, and
     * any virtio-input devices. Safe from any thread; events the guest has no room for are dropped.
     */
    InputSink input() {
        List<InputSink> sinks = new ArrayList<>();
        sinks.add(i8042);
        for (VirtioDevices.Made d : virtio) {
            if (d.device() instanceof InputSink sink) {
                sinks.add(sink);
            }
        }
        return new InputSink() {
            @Override
            public void key(int keysym, boolean down) {
                for (InputSink s : sinks) {
                    s.key(keysym, down);
                }
            }

            @Override
            public void pointer(int x, int y, int buttons, int width, int height) {
                for (InputSink s : sinks) {
                    s.pointer(x, y, buttons, width, height);
                }
            }
        };
    }

    /** Each virtio device's counters now, as totals since the VM was made, in the order the guest sees them. */
    List<DeviceMetrics> metrics() {
        return virtio.stream().map(d -> d.device().metrics(d.id())).filter(Objects::nonNull).toList();
    }

    /** Points drive {@code id} at another image (same read-only mode); on failure it keeps its image. */
    void replaceDrive(String id, Path image) throws ConfigException, IOException {
        vessel.devices.virtio.VirtioBlock block = device(vessel.devices.virtio.VirtioBlock.class, id, "drive");
        if (Files.isDirectory(image)) {
            throw new ConfigException("drive '" + id + "': " + image + " is a directory, not a disk image");
        }
        block.replaceBackend(image);
    }

    /** The balloon device, or null when the VM has none. */
    VirtioBalloon balloon() {
        return find(VirtioBalloon.class, "balloon");
    }

    /** The hot-pluggable memory's virtio-mem device, or null when the VM has none. */
    VirtioMem memoryHotplug() {
        return find(VirtioMem.class, "memory-hotplug");
    }

    /** The virtio device of {@code type} named {@code id}; "no WHAT with id ID" otherwise. */
    <T> T device(Class<T> type, String id, String what) throws ConfigException {
        T device = find(type, id);
        if (device == null) {
            throw new ConfigException("no " + what + " with id " + id);
        }
        return device;
    }

    /** The virtio device configured as {@code id}, if it is a {@code type}; null otherwise. */
    private <T> T find(Class<T> type, String id) {
        for (VirtioDevices.Made d : virtio) {
            if (d.id().equals(id) && type.isInstance(d.device())) {
                return type.cast(d.device());
            }
        }
        return null;
    }

    /**
     * Stops the event loop, then closes the backends (a block device syncs its image), the PCI side and
     * the interrupt lines; before the VM's own fds go. The vCPUs have ended.
     */
    @Override
    public void close() {
        eventLoop.close();
        for (int i = backends.size() - 1; i >= 0; i--) {
            try {
                backends.get(i).close();
            } catch (Exception ignored) {
                // best effort at teardown
            }
        }
        if (pci != null) {
            pci.close();
        }
        legacyIrqs.forEach(EventFd::close);
    }
}
