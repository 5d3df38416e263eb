package vessel.vmm;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

import vessel.boot.GuestLayout;
import vessel.boot.acpi.Mcfg;
import vessel.boot.acpi.PciHostBridgeAml;
import vessel.devices.Bus;
import vessel.devices.display.BochsDisplay;
import vessel.devices.pci.MsiXTable;
import vessel.devices.pci.PciConfigIo;
import vessel.devices.pci.PciEcam;
import vessel.devices.pci.PciFunction;
import vessel.devices.pci.PciRoot;
import vessel.devices.pci.VirtioPciFunction;
import vessel.devices.virtio.VirtioDevice;
import vessel.kvm.GsiRoute;
import vessel.kvm.IoEventFd;
import vessel.kvm.IrqFd;
import vessel.kvm.KvmException;
import vessel.kvm.VmFd;
import vessel.memory.GuestMemory;
import vessel.sys.EventFd;
import vessel.sys.Libc;
import vessel.sys.SysException;

/**
 * The VM's PCI side: bus 0 behind 0xCF8/0xCFC and ECAM, virtio functions with their BARs placed,
 * MSI-X vectors as KVM GSI routes fired through irqfds, INTx on I/O APIC inputs 16-23, and each
 * queue's notification register as an ioeventfd that wakes the {@link EventLoop}.
 */
final class PciDevices implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("vessel.vmm");
    /** GSIs below this are the I/O APIC's pins; MSI routes take the numbers above. */
    private static final int FIRST_MSI_GSI = GsiRoute.IOAPIC_PINS;
    private static final int FIRST_INTX_GSI = 16;

    private final VmFd vm;
    private final GuestMemory memory;
    private final EventLoop loop;
    private final PciRoot root;
    private final PciConfigIo configIo;
    private final List<GsiRoute> baseRoutes = GsiRoute.pcIrqchipRoutes();
    private final Map<Integer, GsiRoute.Msi> msiRoutes = new HashMap<>();
    private final List<AutoCloseable> owned = new ArrayList<>();
    private final Map<VirtioPciFunction, List<EventFd>> notifyFds = new HashMap<>();
    private final int[] intxGsi = new int[PciRoot.SLOTS];
    /** Per function, what follows its BARs when the guest moves them; set before the function is added. */
    private final Map<PciFunction, BarListener> barListeners = new HashMap<>();
    /**
     * Moves memory slots that follow a BAR (the bochs-display's video memory): a thread made at assembly,
     * so it has the assembling thread's seccomp table, where KVM_SET_USER_MEMORY_REGION is allowed.
     */
    private java.util.concurrent.ThreadPoolExecutor slotMover;
    private final long mmio64Base;
    private long next64;
    private int nextGsi = FIRST_MSI_GSI;

    /**
     * Resumes rate-limited queues: at the time the limiter says, it signals the queue's notification
     * eventfd, so the event loop serves the queue as if the driver had notified it, through the pause
     * gate (a paused VM's guest memory stays untouched; the signal waits in the eventfd). One thread,
     * made now (the event loop's seccomp table need not allow making threads), parked until needed.
     */
    private final ScheduledThreadPoolExecutor timers;

    /**
     * The PCI side's devices with state, by name, in the order a restore puts them back: the config
     * latch, then per virtio function its device (settings the activation that follows needs) and its
     * transport (which activates the device again).
     */
    java.util.Map<String, vessel.devices.Snapshottable<?>> stateful() {
        java.util.Map<String, vessel.devices.Snapshottable<?>> all = new java.util.LinkedHashMap<>();
        all.put("pci-config-io", configIo);
        all.putAll(stateful);
        return all;
    }

    /** The functions whose device keeps no snapshot state, by name: a VM with one cannot be snapshotted. */
    List<String> notSnapshottable() {
        return List.copyOf(notSnapshottable);
    }

    /**
     * After every function's state was put back: BARs mapped (and ioeventfds placed) where the restored
     * configuration spaces say, and every queue notified once, since a notification the old VM's event
     * loop had not served when it paused is not in the new VM's eventfds.
     */
    void restored() {
        root.remapAll();
        for (List<EventFd> fds : notifyFds.values()) {
            for (EventFd fd : fds) {
                try {
                    fd.signal();
                } catch (SysException e) {
                    LOG.log(System.Logger.Level.WARNING, "queue kick after restore lost: " + e.getMessage());
                }
            }
        }
    }

    private final java.util.Map<String, vessel.devices.Snapshottable<?>> stateful = new java.util.LinkedHashMap<>();
    private final List<String> notSnapshottable = new ArrayList<>();

    PciDevices(VmFd vm, GuestMemory memory, Bus pio, Bus mmio, EventLoop loop) {
        this(vm, memory, pio, mmio, loop, new vessel.devices.pci.PciHostBridge());
    }

    /** Bus 0 with {@code hostBridge} at 00:00.0 (a chipset's own identity, for firmware). */
    PciDevices(VmFd vm, GuestMemory memory, Bus pio, Bus mmio, EventLoop loop, PciFunction hostBridge) {
        this.timers = new ScheduledThreadPoolExecutor(1, r -> Thread.ofPlatform().name("queue-timer").daemon(true)
                .unstarted(() -> {
                    vessel.sys.Seccomp.enterThread(vessel.sys.Seccomp.ThreadKind.DEVICE);
                    r.run();
                }));
        timers.setRemoveOnCancelPolicy(true);
        timers.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
        timers.prestartCoreThread();
        owned.add(timers::shutdownNow);
        this.vm = vm;
        this.memory = memory;
        this.loop = loop;
        this.root = new PciRoot(mmio, pio, this::barMoved, hostBridge);
        this.configIo = new PciConfigIo(root);
        pio.insert(PciConfigIo.PORT, PciConfigIo.LENGTH, "pci-config-io", configIo);
        mmio.insert(GuestLayout.PCI_ECAM, PciEcam.BUS_SIZE, "pci-ecam", new PciEcam(root));
        this.mmio64Base = GuestLayout.pciMmio64Base(memory.end());
        this.next64 = mmio64Base;
    }

    /** Adds a virtio device in the next free slot, wired to KVM; returns the slot. */
    int addVirtio(String name, VirtioDevice device) throws SysException {
        int slot = root.freeSlot();
        int gsiCount = device.queueCount() + 1;
        int[] gsis = new int[gsiCount];
        EventFd[] irqFds = new EventFd[gsiCount];
        for (int v = 0; v < gsiCount; v++) {
            gsis[v] = nextGsi++;
            irqFds[v] = own(new EventFd(Libc.EFD_NONBLOCK));
            vm.irqfd(new IrqFd(irqFds[v].fd(), gsis[v], 0, 0));
        }
        device.pauseGate(loop.gate());
        int intx = FIRST_INTX_GSI + (slot - 1) % 8;
        intxGsi[slot] = intx;
        MsiXTable.MsiSink sink = new MsiXTable.MsiSink() {
            @Override
            public void route(int vector, long address, int data) {
                setMsiRoute(gsis[vector], address, data);
            }

            @Override
            public void signal(int vector) {
                try {
                    irqFds[vector].signal();
                } catch (SysException e) {
                    LOG.log(System.Logger.Level.WARNING, name + ": interrupt lost: " + e.getMessage());
                }
            }
        };
        VirtioPciFunction function = new VirtioPciFunction(name, device, memory, sink, asserted -> {
            try {
                vm.irqLine(intx, asserted);
            } catch (KvmException e) {
                LOG.log(System.Logger.Level.WARNING, name + ": INTx lost: " + e.getMessage());
            }
        });
        function.config().setInterruptPin(1, intx);
        List<EventFd> fds = new ArrayList<>();
        for (int q = 0; q < device.queueCount(); q++) {
            EventFd fd = own(new EventFd(Libc.EFD_NONBLOCK));
            fds.add(fd);
            int queue = q;
            loop.add(fd, () -> {
                boolean more;
                synchronized (function) {
                    more = function.queueNotifiedThenServe(queue);
                }
                function.servePopped(); // a block request's I/O, off the lock vCPUs take
                return more;
            });
        }
        notifyFds.put(function, fds);
        barListeners.put(function, (bar, from, to) -> moveNotifiers(function, fds, bar, from, to));
        if (device instanceof vessel.devices.Snapshottable<?> state) {
            stateful.put(name + " device", state);
            stateful.put(name, function);
        } else {
            notSnapshottable.add(name);
        }
        device.queueTimer((queue, nanos) -> {
            if (queue < 0 || queue >= fds.size() || timers.isShutdown()) {
                return;
            }
            EventFd fd = fds.get(queue);
            Runnable wake = () -> {
                try {
                    fd.signal();
                } catch (SysException e) {
                    LOG.log(System.Logger.Level.WARNING, name + ": queue " + queue + " not resumed: " + e.getMessage());
                }
            };
            try {
                timers.schedule(wake, Math.max(0, nanos), TimeUnit.NANOSECONDS);
            } catch (java.util.concurrent.RejectedExecutionException e) {
                // the VM is closing
            }
        });
        long size = VirtioPciFunction.BAR_SIZE;
        long address = (next64 + size - 1) & -size;
        next64 = address + size;
        function.config().setBarAddress(VirtioPciFunction.BAR, address);
        function.config().write(vessel.devices.pci.PciConfigSpace.COMMAND, 2,
                vessel.devices.pci.PciConfigSpace.COMMAND_MEMORY);
        root.add(slot, function);
        LOG.log(System.Logger.Level.DEBUG, () -> String.format("PCI 00:%02x.0 %s: BAR0 at 0x%x, INTx GSI %d",
                slot, name, address, intx));
        return slot;
    }

    /**
     * Adds a bochs-display adapter in the next free slot: its video memory a KVM slot that follows BAR0,
     * both BARs placed in the 64-bit window.
     */
    BochsDisplay addBochsDisplay() throws SysException {
        int slot = root.freeSlot();
        BochsVram vram = own(BochsVram.allocate(vm));
        if (slotMover == null) {
            slotMover = new java.util.concurrent.ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS,
                    new java.util.concurrent.LinkedBlockingQueue<>(),
                    r -> Thread.ofPlatform().name("memory-slots").daemon(true).unstarted(r));
            slotMover.prestartCoreThread();
            owned.add(slotMover::shutdownNow);
        }
        BochsDisplay display = new BochsDisplay("bochs-display", vram.view(), vram);
        barListeners.put(display, (bar, from, to) -> moveVram(vram, bar, to));
        for (int bar : new int[] {BochsDisplay.FRAMEBUFFER_BAR, BochsDisplay.MMIO_BAR}) {
            long size = display.config().bar(bar).size();
            long address = (next64 + size - 1) & -size;
            next64 = address + size;
            display.config().setBarAddress(bar, address);
        }
        display.config().write(vessel.devices.pci.PciConfigSpace.COMMAND, 2,
                vessel.devices.pci.PciConfigSpace.COMMAND_MEMORY);
        root.add(slot, display);
        LOG.log(System.Logger.Level.DEBUG, () -> String.format("PCI 00:%02x.0 bochs-display: BAR0 at 0x%x, BAR2 at 0x%x",
                slot, display.config().barAddress(0), display.config().barAddress(2)));
        return display;
    }

    private <T extends AutoCloseable> T own(T resource) {
        owned.add(resource);
        return resource;
    }

    private synchronized void setMsiRoute(int gsi, long address, int data) {
        GsiRoute.Msi route = new GsiRoute.Msi(gsi, address, data);
        if (route.equals(msiRoutes.put(gsi, route))) {
            return;
        }
        List<GsiRoute> all = new ArrayList<>(baseRoutes);
        all.addAll(msiRoutes.values());
        try {
            vm.setGsiRouting(all);
        } catch (KvmException e) {
            LOG.log(System.Logger.Level.WARNING, "MSI route for GSI " + gsi + " not set: " + e.getMessage());
        }
    }

    /** Whatever follows {@code function}'s BARs (ioeventfds, a memory slot) moves with them. */
    private void barMoved(PciFunction function, int bar, long from, long to) {
        BarListener listener = barListeners.get(function);
        if (listener != null) {
            listener.moved(bar, from, to);
        }
    }

    /** Moves the video memory's KVM slot with the framebuffer BAR. */
    private void moveVram(BochsVram vram, int bar, long to) {
        if (bar != BochsDisplay.FRAMEBUFFER_BAR) {
            return;
        }
        // Not on this (vCPU) thread: its seccomp table has no KVM_SET_USER_MEMORY_REGION, which only
        // assembly makes. Until the slot is there, accesses exit and BAR0's MMIO path serves them
        // from the same memory; the dirty log says "all" for the frame after a move.
        try {
            slotMover.execute(() -> vram.moveTo(to));
        } catch (java.util.concurrent.RejectedExecutionException e) {
            // the VM is closing
        }
    }

    /** Keeps each queue's ioeventfd on its notification register wherever the BAR is. */
    private void moveNotifiers(VirtioPciFunction function, List<EventFd> fds, int bar, long from, long to) {
        if (bar != VirtioPciFunction.BAR) {
            return;
        }
        for (int q = 0; q < fds.size(); q++) {
            try {
                if (from != -1) {
                    vm.ioeventfd(new IoEventFd(0, from + VirtioPciFunction.notifyOffset(q), 0, fds.get(q).fd(),
                            IoEventFd.FLAG_DEASSIGN));
                }
                if (to != -1) {
                    vm.ioeventfd(new IoEventFd(0, to + VirtioPciFunction.notifyOffset(q), 0, fds.get(q).fd(), 0));
                }
            } catch (KvmException e) {
                // Without the ioeventfd the write still arrives as an MMIO exit and notifies the queue.
                LOG.log(System.Logger.Level.WARNING, function.name() + ": queue " + q + " ioeventfd: " + e.getMessage());
            }
        }
    }

    /** The ACPI description: ECAM for MCFG, and the host bridge's windows and INTx routing. */
    PciHostBridgeAml acpi() {
        return new PciHostBridgeAml(GuestLayout.PCI_MMIO32_START, GuestLayout.PCI_ECAM - 1, mmio64Base,
                mmio64Base + GuestLayout.PCI_MMIO64_SIZE - 1, mcfg(), intxGsi);
    }

    /**
     * The description when firmware placed the BARs: SeaBIOS allocates 32-bit BARs downwards from
     * 0xFEC00000 (the I/O APIC), so the 32-bit window runs from above the ECAM window up to there, and
     * Linux keeps what the firmware assigned instead of moving it.
     */
    PciHostBridgeAml acpiForFirmware() {
        return new PciHostBridgeAml(GuestLayout.PCI_ECAM + GuestLayout.PCI_ECAM_SIZE, FIRMWARE_MMIO32_END, mmio64Base,
                mmio64Base + GuestLayout.PCI_MMIO64_SIZE - 1, mcfg(), intxGsi);
    }

    /** The last byte SeaBIOS's 32-bit PCI window may use (BUILD_PCIMEM_END - 1). */
    static final long FIRMWARE_MMIO32_END = 0xfebf_ffffL;

    static Mcfg mcfg() {
        return new Mcfg(GuestLayout.PCI_ECAM, 0, 0);
    }

    @Override
    public void close() {
        for (int i = owned.size() - 1; i >= 0; i--) {
            try {
                owned.get(i).close();
            } catch (Exception ignored) {
                // best effort at teardown
            }
        }
    }

    /** What follows one function's BARs: called with the BAR's old address (-1: unmapped) and new one. */
    @FunctionalInterface
    private interface BarListener {
        void moved(int bar, long from, long to);
    }
}
