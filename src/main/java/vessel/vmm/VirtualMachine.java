package vessel.vmm;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.ToIntFunction;

import vessel.boot.BootEntry;
import vessel.boot.ElfFile;
import vessel.boot.GuestLayout;
import vessel.boot.ImageException;
import vessel.boot.KernelLoader;
import vessel.boot.LinuxCpuFeature;
import vessel.boot.linux.BackgroundDecompression;
import vessel.boot.linux.CapFlagTable;
import vessel.boot.linux.DecompressedKernel;
import vessel.boot.MultibootLoader;
import vessel.boot.X86Cpu;
import vessel.boot.acpi.AcpiPlatform;
import vessel.boot.acpi.AcpiTables;
import vessel.boot.firmware.FirmwareImage;
import vessel.devices.firmware.FwCfg;
import vessel.devices.pci.I440fxHostBridge;
import vessel.devices.Bus;
import vessel.devices.BusDevice;
import vessel.devices.DeviceMetrics;
import vessel.devices.input.InputSink;
import vessel.devices.legacy.I8042;
import vessel.devices.legacy.Uart16550;
import vessel.kvm.Cap;
import vessel.kvm.CpuidEntry;
import vessel.kvm.ExitReason;
import vessel.kvm.GsiRoute;
import vessel.kvm.Kvm;
import vessel.kvm.KvmException;
import vessel.kvm.KvmRun;
import vessel.kvm.LapicState;
import vessel.kvm.VcpuFd;
import vessel.kvm.VmFd;
import vessel.memory.GuestMemory;
import vessel.memory.MemoryRegion;
import vessel.sys.Errno;
import vessel.sys.EventFd;
import vessel.sys.SysException;
import vessel.vmm.snapshot.KvmState;
import vessel.vmm.snapshot.MemoryFile;
import vessel.vmm.snapshot.RecordCodec;
import vessel.vmm.snapshot.SnapshotFile;
import vessel.vmm.snapshot.SnapshotFormatException;
import vessel.vmm.snapshot.VmSnapshot;

/**
 * A running guest: the embedding API and what the CLI drives.
 *
 * <pre>{@code
 * VmConfig config = VmConfig.builder().kernel(Path.of("guest.elf")).memory("128M").build();
 * try (VirtualMachine vm = VirtualMachine.create(config, System.out)) {
 *     vm.start();
 *     VmExit exit = vm.awaitExit();
 * }
 * }</pre>
 *
 * Creation does all the fallible work (files, KVM, memory, loading) and releases whatever it made if
 * any step fails, so a VM is either whole or not made at all.
 */
public final class VirtualMachine implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("vessel.vmm");

    /** Where a VM is in its life. */
    /** Where a VM is in its life; SUSPENDED is the guest's own S3 sleep, which a wake event ends. */
    public enum State { CREATED, RUNNING, PAUSED, SUSPENDED, ENDED }

    private final VmConfig config;
    private final Kvm kvm;
    private final VmFd vmFd;
    private final GuestMemory memory;
    private final List<VcpuFd> vcpuFds;
    private final List<Vcpu> vcpus = new ArrayList<>();
    private final List<Thread> threads = new ArrayList<>();
    /** The FACS's guest address (where a waking guest's vector is), or 0 when the guest has no ACPI tables. */
    private final long facsAddress;
    private final RunControl control;
    private final EmulationAssist assist;
    private final GuestDebugger debugger;
    private final AtomicReference<VmExit> exit = new AtomicReference<>();
    private final CompletableFuture<VmExit> ended = new CompletableFuture<>();
    private volatile State state = State.CREATED;
    /** Every device, its buses, interrupt lines and backends; the VM keeps vCPUs, memory and lifecycle. */
    private final DeviceManager devices;
    private volatile boolean trackingDirtyPages;
    /** The ROM and BIOS-area views of a firmware boot; null for a direct boot. */
    private final FirmwareMemory firmwareMemory;
    private final BootFramebuffer framebuffer;

    private VirtualMachine(VmConfig config, Kvm kvm, VmFd vmFd, GuestMemory memory, List<VcpuFd> vcpuFds,
                           List<EventFd> eventFds, OutputStream console, Bus pio, Bus mmio, EventLoop eventLoop,
                           PciDevices pci, List<AutoCloseable> deviceResources, List<VirtioDevices.Made> virtio,
                           FirmwareMemory firmwareMemory, BootFramebuffer framebuffer, long facsAddress) {
        this.framebuffer = framebuffer;
        this.facsAddress = facsAddress;
        this.firmwareMemory = firmwareMemory;
        this.config = config;
        this.kvm = kvm;
        this.vmFd = vmFd;
        this.memory = memory;
        this.vcpuFds = vcpuFds;
        this.control = new RunControl(vcpuFds.size());
        this.assist = new EmulationAssist(memory);
        this.debugger = new GuestDebugger(this, vcpuFds, memory);
        this.devices = new DeviceManager(config, memory, vcpuFds.size(), firmwareMemory != null, eventFds, console,
                pio, mmio, eventLoop, pci, deviceResources, virtio, new DeviceManager.Platform() {
                    @Override
                    public void exit(VmExit e) {
                        VirtualMachine.this.exit(e);
                    }

                    @Override
                    public void suspend() {
                        suspendToRam();
                    }
                });
        Vcpu.Host host = new Vcpu.Host() {
            @Override
            public Bus pio() {
                return devices.pio();
            }

            @Override
            public Bus mmio() {
                return devices.mmio();
            }

            @Override
            public RunControl control() {
                return control;
            }

            @Override
            public EmulationAssist assist() {
                return assist;
            }

            @Override
            public GuestDebugger debugger() {
                return debugger;
            }

            @Override
            public void exit(VmExit e) {
                VirtualMachine.this.exit(e);
            }

            @Override
            public void vcpuEnded(Vcpu vcpu) {
                VirtualMachine.this.vcpuEnded();
            }

            @Override
            public void wake(Vcpu vcpu, VcpuFd fd, LapicState resetLapic) {
                VirtualMachine.this.wakeVcpu(vcpu, fd, resetLapic);
            }
        };
        for (VcpuFd fd : vcpuFds) {
            Vcpu v = new Vcpu(fd, host);
            if (!config.cpuAffinity().isEmpty()) {
                v.pinTo(config.cpuAffinity().get(fd.id() % config.cpuAffinity().size()));
            }
            vcpus.add(v);
        }
    }

    /** Logs (at debug) how far the VM's assembly got, to see where a cold start spends its time. */
    private static void phase(String what) {
        LOG.log(System.Logger.Level.DEBUG, () -> "assembly: " + what + " at " + sinceProcessStart());
    }

    /** "N ms after process start", or "" where the OS does not say when the process started. */
    private static String sinceProcessStart() {
        return ProcessHandle.current().info().startInstant()
                .map(t -> java.time.Duration.between(t, java.time.Instant.now()).toMillis() + " ms after process start")
                .orElse("");
    }

    /**
     * Firecracker's serial_out_path: a file, or a FIFO someone reads, opened for appending (created if
     * missing) before KVM is touched, so a bad path is one line and no VM.
     */
    private static OutputStream openSerialOutput(Path path) throws ConfigException {
        try {
            return java.nio.file.Files.newOutputStream(path, java.nio.file.StandardOpenOption.CREATE,
                    java.nio.file.StandardOpenOption.WRITE, java.nio.file.StandardOpenOption.APPEND);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new ConfigException("serial output " + path + ": its directory does not exist");
        } catch (java.nio.file.AccessDeniedException e) {
            throw new ConfigException("serial output " + path + " cannot be opened (permission denied)");
        } catch (IOException e) {
            throw new ConfigException("serial output " + path + " cannot be opened: " + e.getMessage());
        }
    }

    /** The console and the serial output file both get every byte; the console's failure stays the console's. */
    private static OutputStream tee(OutputStream console, OutputStream file) {
        return new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                file.write(b, off, len);
                console.write(b, off, len);
            }

            @Override
            public void flush() throws IOException {
                file.flush();
                console.flush();
            }
        };
    }

    /** Builds the VM from {@code config}, with the serial console written to {@code console}. */
    public static VirtualMachine create(VmConfig config, OutputStream console) throws ConfigException, IOException {
        config.validate();
        FirmwareImage firmware = null;
        if (config.firmware() != null) {
            try {
                firmware = FirmwareImage.of(readInput(config.firmware(), "firmware"), config.firmware().toString());
            } catch (ImageException e) {
                throw new ConfigException(e.getMessage());
            }
        }
        byte[] kernelImage = firmware != null ? null : readInput(config.kernel(), "kernel");
        // Decompression (when Vessel does it) overlaps everything up to loading the kernel.
        BackgroundDecompression hostKernel = firmware == null && config.decompress() == VmConfig.KernelDecompress.HOST
                ? KernelLoader.startHostDecompression(kernelImage, config.kernel().toString(), config.entry()) : null;
        List<AutoCloseable> made = new ArrayList<>();
        if (hostKernel != null) {
            made.add(hostKernel::cancel);
        }
        try {
            List<MultibootLoader.Module> modules = new ArrayList<>();
            for (Path initrd : config.initrds()) {
                modules.add(new MultibootLoader.Module(readInput(initrd, "initrd"), initrd.toString()));
            }
            // Device backends first: a bad drive path is the user's mistake and is reported before KVM is touched.
            List<VirtioDevices.Made> virtio = VirtioDevices.create(config);
            virtio.forEach(d -> made.add(d.resource()));
            OutputStream serialFile = config.serial() == null || config.serial().file() == null ? null
                    : openSerialOutput(config.serial().file());
            if (serialFile != null) {
                made.add(serialFile);
                console = tee(console, serialFile);
            }
            if (config.serial() != null && config.serial().rateLimit() != null && config.serial().rateLimit().limits()) {
                console = new SerialRateLimit(console, config.serial().rateLimit());
            }
            if (firmware != null) {
                FirmwareBoot.checkBootable(config.drives());
            }
            phase("inputs read, device backends open");
            Kvm kvm = Kvm.open();
            made.add(kvm);
            phase("KVM open");
            int maxVcpus = Math.max(kvm.checkExtension(Cap.MAX_VCPUS), kvm.checkExtension(Cap.NR_VCPUS));
            if (maxVcpus > 0 && config.cpus() > maxVcpus) {
                throw new ConfigException("cpu count " + config.cpus() + " is more than this host's KVM allows (" + maxVcpus + ")");
            }
            if (config.cpuTemplate() != null) {
                List<Integer> missing = config.cpuTemplate().requiredCaps().stream()
                        .filter(c -> kvm.checkExtension(c) == 0).toList();
                if (!missing.isEmpty()) {
                    throw new ConfigException("Missing KVM capabilities: " + missing);
                }
            }
            VmFd vm = newVmFd(kvm, made, firmware != null);

            vessel.memory.PluggableRegion pluggable = config.memoryHotplug() == null ? null
                    : vessel.memory.PluggableRegion.allocate(GuestLayout.hotplugBase(config.memoryBytes()),
                            config.memoryHotplug().totalBytes(), config.memoryHotplug().blockBytes());
            if (pluggable != null) {
                made.add(pluggable);
            }
            HostResources.checkAffinity(config.cpuAffinity());
            GuestMemory memory = HostResources.allocate(GuestLayout.ramRanges(config.memoryBytes()),
                    config.memoryBacking(), pluggable);
            made.add(memory);
            for (MemoryRegion r : memory.regions()) {
                if (firmware != null && r.guestBase() == 0) {
                    continue; // mapped around the BIOS area by FirmwareMemory, below
                }
                vm.setUserMemoryRegion(r.slot(), r.guestBase(), r.host(), 0);
                // For tools that split the process's memory into guest RAM and the VMM's own (bench/boot).
                LOG.log(System.Logger.Level.DEBUG, () -> String.format("guest RAM slot %d: host %x-%x", r.slot(),
                        r.host().address(), r.host().address() + r.size()));
            }
            if (pluggable != null) {
                // One slot for the whole region: unplugged blocks are holes the host never committed.
                MemoryRegion r = memory.pluggableRegion();
                vm.setUserMemoryRegion(r.slot(), r.guestBase(), r.host(), 0);
                virtio.add(new VirtioDevices.Made("memory-hotplug", "virtio-mem",
                        new vessel.devices.virtio.VirtioMem(pluggable, config.memoryHotplug().slotBytes()), () -> { }));
            }

            BootFramebuffer framebuffer = null;
            if (config.display() != null) {
                framebuffer = BootFramebuffer.create(vm, config.display());
                made.add(framebuffer);
            }

            phase("VM and guest memory made");
            boolean linux = firmware == null && config.entry() == null && KernelLoader.isLinux(kernelImage);
            HostProbe.Result probe = linux ? HostProbe.probe(kvm) : null;
            if (linux) {
                GuestSpeed.ofHost(kvm); // says once where a Linux boot will take many minutes
            }
            X86Cpu.CpuidLimits limits = linux ? probe.cpuidLimits() : X86Cpu.CpuidLimits.NONE;
            phase("host probed");

            // PCI: bus 0 with a virtio function per drive (and the entropy device), served by the event loop.
            Bus pio = new Bus("port I/O");
            Bus mmio = new Bus("MMIO");
            EventLoop eventLoop = new EventLoop();
            made.add(eventLoop);
            PciDevices pci = null;
            FirmwareMemory firmwareMemory = null;
            List<AutoCloseable> deviceResources = new ArrayList<>();
            if (serialFile != null) {
                deviceResources.add(serialFile);
            }
            List<Integer> diskSlots = new ArrayList<>();
            vessel.devices.display.BochsDisplay bochs = null;
            boolean adapter = config.displayAdapter() == VmConfig.DisplayAdapter.BOCHS;
            if (firmware != null) {
                firmwareMemory = FirmwareMemory.map(vm, memory, firmware, mmio);
                made.add(firmwareMemory);
                pci = new PciDevices(vm, memory, pio, mmio, eventLoop,
                        new I440fxHostBridge(firmwareMemory::pamChanged));
                made.add(pci);
            } else if (linux || !virtio.isEmpty() || adapter) {
                pci = new PciDevices(vm, memory, pio, mmio, eventLoop);
                made.add(pci);
            }
            int pmemSlot = GuestLayout.PMEM_FIRST_SLOT;
            for (VirtioDevices.Made d : virtio) {
                deviceResources.add(d.resource());
                if (d.memory() != null) {
                    d.memory().mapInto(vm, pmemSlot++);
                }
                int slot = pci.addVirtio(d.name(), d.device());
                if (d.disk()) {
                    diskSlots.add(slot);
                }
            }
            if (adapter) {
                bochs = pci.addBochsDisplay();
            }

            // Linux finds CPUs, the IOAPIC, COM1, PCI and how to power off (and with --acpi-sleep, to suspend) in
            // ACPI; so may a multiboot kernel (by scanning the BIOS area for the RSDP, as on a PC), which always
            // gets the sleep states: such a kernel looks for the FACS. Flat images get no tables.
            long rsdp = 0;
            long facs = 0;
            boolean sleepStates = false;
            boolean multiboot = firmware == null && config.entry() == null && !linux
                    && KernelLoader.detect(kernelImage) == KernelLoader.Format.MULTIBOOT;
            if (firmware != null) {
                AcpiPlatform platform = FirmwareBoot.acpiPlatform(config.cpus(), pci.acpiForFirmware().toAml());
                pio.insert(FwCfg.PORT, FwCfg.LENGTH, "fw_cfg",
                        FirmwareBoot.fwCfg(memory, config.cpus(), platform, diskSlots));
            } else if (linux || multiboot) {
                AcpiPlatform platform = AcpiPlatform.forCpus(config.cpus());
                sleepStates = multiboot || config.acpiSleep();
                if (sleepStates) {
                    platform = platform.withSleepStates();
                }
                if (pci != null) {
                    platform = platform.withPciEcam(PciDevices.mcfg()).withSystemBusDevice(pci.acpi().toAml());
                }
                if (linux) {
                    platform = platform.withSystemBusDevice(vessel.boot.acpi.VmGenIdAml.devicesWithNotify(
                            GuestLayout.VMGENID, GuestLayout.VMGENID_NOTIFY_IRQ));
                }
                AcpiTables.Placement acpi = AcpiTables.write(memory, GuestLayout.ACPI_TABLES, platform);
                if (acpi.end() > GuestLayout.VMGENID) {
                    throw new IllegalStateException("ACPI tables overflow the BIOS area: end 0x" + Long.toHexString(acpi.end()));
                }
                rsdp = linux ? acpi.rsdpAddress() : 0;
                facs = acpi.facsAddress();
            }

            phase("devices and ACPI tables made");
            BootEntry entry = null;
            if (firmware == null) {
                try {
                    // The kernel's feature table is looked up only when something is to be hidden (~20-90 ms).
                    String cmdline = !linux ? config.cmdline() : linuxCmdline(config.cmdline(), probe.hiddenFeatures().isEmpty()
                            ? probe.kernelOptions()
                            : probe.kernelOptions(featureNumbers(kernelImage, config.kernel().toString(), hostKernel)));
                    entry = KernelLoader.load(memory, new KernelLoader.BootRequest(kernelImage, config.kernel().toString(),
                            config.entry(), cmdline, modules, hostKernel, rsdp,
                            framebuffer == null ? null : framebuffer.screenInfo()));
                } catch (ImageException e) {
                    throw new ConfigException(e.getMessage());
                }
            }

            phase("kernel loaded");
            List<EventFd> eventFds = DeviceManager.legacyIrqs(vm, made);

            List<CpuidEntry> supported = kvm.supportedCpuid();
            // Only where the FADT is not hardware-reduced, where Linux would otherwise check its local APIC
            // timer against the PIT. The default tables leave the CPUID the stock boot was measured with.
            if ((sleepStates || firmware != null) && kvm.checkExtension(Cap.TSC_DEADLINE_TIMER) > 0) {
                supported = X86Cpu.withTscDeadlineTimer(supported);
            }
            List<VcpuFd> vcpuFds = new ArrayList<>();
            for (int i = 0; i < config.cpus(); i++) {
                VcpuFd vcpu = vm.createVcpu(i);
                made.add(vcpu);
                vcpuFds.add(vcpu);
                List<CpuidEntry> cpuid = X86Cpu.cpuidFor(supported, i, config.cpus(), limits);
                if (config.smt()) {
                    cpuid = X86Cpu.withSmtTopology(cpuid, i, config.cpus());
                }
                List<vessel.kvm.MsrEntry> msrs = X86Cpu.bootMsrs();
                if (config.cpuTemplate() != null) {
                    cpuid = config.cpuTemplate().applyCpuid(cpuid);
                    msrs = config.cpuTemplate().applyMsrs(msrs, vcpu);
                }
                vcpu.setCpuid(cpuid);
                if (firmware == null) {
                    vcpu.setMsrs(msrs); // firmware finds the MSRs as a reset leaves them
                }
                X86Cpu.wireLapic(vcpu);
            }
            // Only the boot CPU gets an entry state; with the in-kernel irqchip the others wait in
            // KVM_RUN until the boot CPU sends them INIT and SIPI.
            if (firmware != null) {
                X86Cpu.reset(vcpuFds.getFirst());
            } else {
                X86Cpu.enter(vcpuFds.getFirst(), memory, entry);
            }
            if (framebuffer != null) {
                deviceResources.add(framebuffer);
            }
            VirtualMachine made_ = new VirtualMachine(config, kvm, vm, memory, vcpuFds, eventFds, console, pio, mmio,
                    eventLoop, pci, deviceResources, virtio, firmwareMemory, framebuffer, facs);
            made_.devices.displayAdapter(bochs);
            if (linux) {
                made_.addGenerationId();
            }
            return made_;
        } catch (ConfigException | IOException | RuntimeException e) {
            closeAll(made);
            throw e;
        }
    }

    /**
     * A VM fd with what every Vessel VM has before its memory: the TSS pages, the irqchip and the PIT. A firmware boot keeps KVM's identity map and TSS where a ROM of up to 16 MiB cannot reach (QEMU's place).
     */
    private static VmFd newVmFd(Kvm kvm, List<AutoCloseable> made, boolean firmware) throws IOException {
        VmFd vm = kvm.createVm();
        made.add(vm);
        vm.setIdentityMapAddr(firmware ? FirmwareBoot.KVM_IDENTITY_MAP : GuestLayout.KVM_IDENTITY_MAP);
        vm.setTssAddr(firmware ? FirmwareBoot.KVM_TSS : GuestLayout.KVM_TSS);
        vm.createIrqchip();
        vm.createPit2(VmFd.PIT_SPEAKER_DUMMY);
        // The PIT on I/O APIC pin 2, as the MADT tells the guest (KVM's default would put it on pin 0).
        vm.setGsiRouting(GsiRoute.pcIrqchipRoutes());
        return vm;
    }

    private static final String GENERATION_ID = "vmgenid";

    /** The VM generation ID the ACPI tables describe (Linux guests), with a fresh ID; saved and restored. */
    private void addGenerationId() {
        vessel.devices.acpi.VmGenerationId id = new vessel.devices.acpi.VmGenerationId(memory, GuestLayout.VMGENID);
        id.newGeneration();
        devices.addStateful(GENERATION_ID, id);
    }

    /**
     * Tells a running guest its generation ID changed: an edge on the Generic Event Device's interrupt, whose
     * _EVT notifies the VGEN device (VmGenIdAml). Pending in the guest's LAPIC until its vCPUs run.
     */
    private void notifyNewGeneration() {
        try {
            vmFd.irqLine(GuestLayout.VMGENID_NOTIFY_IRQ, true);
            vmFd.irqLine(GuestLayout.VMGENID_NOTIFY_IRQ, false);
        } catch (vessel.kvm.KvmException e) {
            LOG.log(System.Logger.Level.WARNING, "the guest was not told of its new generation ID: " + e.getMessage());
        }
    }

    /** What {@link #snapshot} wrote, and how long it took. */
    public record SnapshotResult(VmSnapshot.Type type, long stateBytes, long memoryBytesWritten, long millis) {
    }

    /**
     * Saves the paused VM: its state file at {@code statePath} and its memory at {@code memoryPath} (every
     * page for {@link VmSnapshot.Type#FULL}; for {@link VmSnapshot.Type#DIFF}, only the pages written since
     * the previous snapshot, which needs dirty page tracking). The VM stays paused and can resume.
     */
    public synchronized SnapshotResult snapshot(Path statePath, Path memoryPath, VmSnapshot.Type type)
            throws ConfigException, IOException {
        long t0 = System.nanoTime();
        if (state != State.PAUSED) {
            throw new ConfigException("a snapshot needs a paused VM; this one is " + state.name().toLowerCase(java.util.Locale.ROOT));
        }
        if (memory.pluggable() != null) {
            throw new ConfigException("snapshots of VMs with hot-pluggable memory (virtio-mem) are not supported yet");
        }
        String refusal = SnapshotDevices.refusal(config);
        PciDevices pci = devices.pci();
        if (refusal == null && pci != null && !pci.notSnapshottable().isEmpty()) {
            refusal = "snapshots of VMs with " + pci.notSnapshottable() + " are not supported yet";
        }
        if (refusal != null) {
            throw new ConfigException(refusal);
        }
        if (firmwareMemory != null) {
            throw new ConfigException("snapshots of firmware-booted VMs (--firmware) are not supported yet");
        }
        if (type == VmSnapshot.Type.DIFF && !trackingDirtyPages) {
            throw new ConfigException("a diff snapshot needs dirty page tracking (track_dirty_pages), which this VM does not have");
        }
        for (Path p : List.of(statePath, memoryPath)) {
            Path dir = p.toAbsolutePath().getParent();
            if (dir == null || !Files.isDirectory(dir)) {
                throw new ConfigException("cannot write " + p + ": directory " + dir + " does not exist");
            }
        }
        // KVM completes an instruction that exited to user space (an IN's data) only on the next KVM_RUN:
        // enter with immediate_exit so the saved registers are those after it.
        for (VcpuFd fd : vcpuFds) {
            int r = finishPendingExit(fd);
            if (r != -Errno.EINTR && r != 0) {
                throw new IOException("completing vCPU " + fd.id() + "'s last exit: KVM_RUN returned " + r);
            }
        }
        List<Integer> msrIndices = kvm.msrIndexList();
        List<VmSnapshot.VcpuState> vcpuStates = new ArrayList<>();
        for (VcpuFd fd : vcpuFds) {
            vcpuStates.add(KvmState.saveVcpu(fd, msrIndices));
        }
        VmSnapshot.VmState vmState = KvmState.saveVm(vmFd);
        List<VmSnapshot.DeviceState> deviceStates = new ArrayList<>();
        devices.stateful().forEach((name, device) -> deviceStates.add(save(name, device)));

        long written;
        long[] dirtyRuns = new long[0];
        if (type == VmSnapshot.Type.FULL) {
            written = MemoryFile.writeFull(memory, memoryPath);
            if (trackingDirtyPages) {
                dirtyBitmaps(); // the next diff starts from this snapshot
            }
        } else {
            dirtyRuns = MemoryFile.writeDiff(memory, dirtyBitmaps(), memoryPath);
            long pages = 0;
            for (int i = 1; i < dirtyRuns.length; i += 2) {
                pages += dirtyRuns[i];
            }
            written = pages * GuestMemory.PAGE_SIZE;
        }
        VmSnapshot snapshot = new VmSnapshot(
                new VmSnapshot.Machine(config.memoryBytes(), vcpuFds.size(), config.debugExit(), devices.pci() != null,
                        SnapshotDevices.of(config)),
                vmState, vcpuStates, deviceStates, new VmSnapshot.Memory(type, memory.totalSize(), dirtyRuns));
        SnapshotFile.write(statePath, snapshot);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        LOG.log(System.Logger.Level.INFO, () -> "snapshot (" + type + ") written: " + statePath + ", " + memoryPath
                + " (" + written + " bytes of memory) in " + ms + " ms");
        return new SnapshotResult(type, Files.size(statePath), written, ms);
    }

    private static <S extends Record> VmSnapshot.DeviceState save(String name, vessel.devices.Snapshottable<S> device) {
        return new VmSnapshot.DeviceState(name, device.stateType().getName(), RecordCodec.encode(device.saveState()));
    }

    private static <S extends Record> void restore(vessel.devices.Snapshottable<S> device, VmSnapshot.DeviceState saved)
            throws SnapshotFormatException {
        device.restoreState(RecordCodec.decode(saved.state(), device.stateType()));
    }

    /** Per region, the pages written since the last call: KVM's log of the guest's writes and the VMM's own. */
    private List<long[]> dirtyBitmaps() throws IOException {
        List<long[]> maps = new ArrayList<>();
        for (MemoryRegion r : memory.regions()) {
            long[] kvmLog = vmFd.getDirtyLog(r.slot(), r.size() / GuestMemory.PAGE_SIZE);
            long[] vmm = memory.takeVmmWrites(r.slot());
            for (int i = 0; i < kvmLog.length && i < vmm.length; i++) {
                kvmLog[i] |= vmm[i];
            }
            maps.add(kvmLog);
        }
        return maps;
    }

    /**
     * Logs, from now on, the pages the guest and the VMM write, so {@link #snapshot} can take a diff
     * (Firecracker's track_dirty_pages). KVM turns logging on for a running guest too (as live migration
     * does); a diff holds the pages written since the previous snapshot, so tracking must be on before
     * the snapshot a diff is to be applied to.
     */
    public synchronized void trackDirtyPages() throws IOException {
        if (state == State.ENDED || trackingDirtyPages) {
            return;
        }
        for (MemoryRegion r : memory.regions()) {
            vmFd.setUserMemoryRegion(r.slot(), r.guestBase(), r.host(), vessel.kvm.UserMemoryRegion.LOG_DIRTY_PAGES);
        }
        memory.trackVmmWrites();
        trackingDirtyPages = true;
    }

    /**
     * Rebuilds a VM from a snapshot's state file and memory file, in the state it was saved in, not yet
     * running: {@link #start()} resumes the guest where it stopped; {@link #start(boolean) start(true)}
     * leaves it paused. Guest memory is mapped from the file copy-on-write: nothing is read up front, and
     * the file is never written. A state file that is truncated, corrupted, of another version or names
     * other devices, or a memory file of another size, is one {@link ConfigException} and nothing is made.
     */
    public static VirtualMachine restore(Path statePath, Path memoryPath, OutputStream console)
            throws ConfigException, IOException {
        return restore(statePath, memoryPath, console, RestoreOverrides.NONE);
    }

    /**
     * As {@link #restore(Path, Path, OutputStream)}, with the disks, TAPs and vsock socket {@code overrides}
     * names in place of the snapshot's (one snapshot restored as several VMs, each with its own). Disks
     * and TAPs are opened first: a missing one is one line and nothing else is made.
     */
    public static VirtualMachine restore(Path statePath, Path memoryPath, OutputStream console,
                                         RestoreOverrides overrides) throws ConfigException, IOException {
        long t0 = System.nanoTime();
        VmSnapshot snap;
        try {
            snap = SnapshotFile.read(statePath);
            MemoryFile.checkSize(memoryPath, snap.memory().bytes(), "memory file");
        } catch (SnapshotFormatException e) {
            throw new ConfigException(e.getMessage());
        }
        VmSnapshot.Machine machine = snap.machine();
        VmConfig config = SnapshotDevices.config(statePath, machine, overrides);
        List<AutoCloseable> made = new ArrayList<>();
        try {
            List<VirtioDevices.Made> virtio = VirtioDevices.create(config);
            virtio.forEach(d -> made.add(d.resource()));
            Kvm kvm = Kvm.open();
            made.add(kvm);
            VmFd vm = newVmFd(kvm, made, false);
            int fd;
            try {
                fd = vessel.sys.Libc.open(memoryPath.toString(), vessel.sys.Libc.O_RDONLY | vessel.sys.Libc.O_CLOEXEC, 0);
            } catch (SysException e) {
                throw new ConfigException("memory file " + memoryPath + " cannot be opened: " + Errno.describe(e.errno()));
            }
            GuestMemory memory;
            try {
                memory = GuestMemory.mapPrivate(GuestLayout.ramRanges(machine.memoryBytes()), fd);
            } finally {
                vessel.sys.Libc.close(fd); // the mappings keep the file
            }
            made.add(memory);
            for (MemoryRegion r : memory.regions()) {
                vm.setUserMemoryRegion(r.slot(), r.guestBase(), r.host(), 0);
            }
            Bus pio = new Bus("port I/O");
            Bus mmio = new Bus("MMIO");
            EventLoop eventLoop = new EventLoop();
            made.add(eventLoop);
            PciDevices pci = null;
            List<AutoCloseable> deviceResources = new ArrayList<>();
            if (machine.pci()) {
                pci = new PciDevices(vm, memory, pio, mmio, eventLoop);
                made.add(pci);
                for (VirtioDevices.Made d : virtio) {
                    deviceResources.add(d.resource());
                    pci.addVirtio(d.name(), d.device());
                }
            }
            // Device threads started by the restored activations wait here until start(): interrupts
            // they raised now would reach an irqchip whose state is put back after them.
            try {
                eventLoop.gate().pause(); // no pass is in progress yet: returns at once
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("restore interrupted");
            }
            List<EventFd> eventFds = DeviceManager.legacyIrqs(vm, made);
            List<VcpuFd> vcpuFds = new ArrayList<>();
            for (int i = 0; i < machine.cpus(); i++) {
                VcpuFd vcpu = vm.createVcpu(i);
                made.add(vcpu);
                vcpuFds.add(vcpu);
            }
            VirtualMachine restored = new VirtualMachine(config, kvm, vm, memory, vcpuFds, eventFds, console, pio, mmio,
                    eventLoop, pci, deviceResources, virtio, null, null, 0);
            if (snap.deviceNames().contains(GENERATION_ID)) {
                restored.addGenerationId(); // restoring it writes a new ID: this VM is another generation
            }
            List<String> expected = snap.deviceNames();
            List<String> have = List.copyOf(restored.devices.stateful().keySet());
            if (!expected.equals(have)) {
                throw new ConfigException("snapshot " + statePath + " expects devices " + expected
                        + " but this Vessel builds " + have + " for it");
            }
            for (VmSnapshot.DeviceState d : snap.devices()) {
                vessel.devices.Snapshottable<?> device = restored.devices.stateful().get(d.name());
                if (!device.stateType().getName().equals(d.kind())) {
                    throw new ConfigException("snapshot " + statePath + " holds " + d.kind() + " state for device "
                            + d.name() + ", which here keeps " + device.stateType().getName());
                }
                try {
                    restore(device, d);
                } catch (SnapshotFormatException | IllegalArgumentException e) {
                    throw new ConfigException("snapshot " + statePath + ": device " + d.name() + ": " + e.getMessage());
                }
            }
            if (pci != null) {
                pci.restored();
            }
            KvmState.restoreVm(vm, snap.vm());
            for (VcpuFd vcpu : vcpuFds) {
                KvmState.restoreVcpu(vcpu, snap.vcpus().get(vcpu.id()));
            }
            if (snap.deviceNames().contains(GENERATION_ID)) {
                // Only now: the irqchips and LAPICs put back above would have dropped an edge raised before.
                restored.notifyNewGeneration();
            }
            LOG.log(System.Logger.Level.INFO, () -> "restored from " + statePath + " and " + memoryPath + " in "
                    + (System.nanoTime() - t0) / 1_000_000 + " ms");
            return restored;
        } catch (ConfigException | IOException | RuntimeException e) {
            closeAll(made);
            throw e;
        }
    }

    /**
     * How the kernel being booted numbers CPU features for clearcpuid=: by its own x86_cap_flags table
     * where its vmlinux is at hand (decompressed on the host, or given as an ELF file), else by the
     * word layout Linux has kept since those words existed. Waiting for the host decompression here
     * costs nothing: the loader waits for it right after.
     */
    static ToIntFunction<LinuxCpuFeature> featureNumbers(byte[] kernelImage, String name, BackgroundDecompression hostKernel)
            throws ImageException {
        Optional<CapFlagTable> table = Optional.empty();
        if (hostKernel != null) {
            DecompressedKernel kernel = hostKernel.await();
            table = CapFlagTable.find(kernel.elf(), kernel.vmlinux());
        } else if (KernelLoader.detect(kernelImage) == KernelLoader.Format.LINUX_VMLINUX) {
            table = CapFlagTable.find(ElfFile.parse(kernelImage, name), kernelImage);
        }
        if (table.isEmpty()) {
            LOG.log(System.Logger.Level.DEBUG, "CPU feature numbers for clearcpuid= from Linux's word layout"
                    + " (the kernel's own table is not at hand)");
            return LinuxCpuFeature::linuxNumber;
        }
        CapFlagTable t = table.get();
        return f -> {
            int n = f.numberIn(t);
            if (n != f.linuxNumber()) {
                LOG.log(System.Logger.Level.INFO, "this kernel numbers CPU feature " + f.cpuinfoName + " " + n
                        + ", not " + f.linuxNumber() + " as Linux's word layout has it: using " + n);
            }
            return n;
        };
    }

    /**
     * The Linux command line: the user's (or a default with a serial console), plus the options this
     * host needs that the user has not already given.
     */
    static String linuxCmdline(String given, List<String> hostOptions) {
        StringBuilder cmd = new StringBuilder(given.isBlank() ? KernelLoader.DEFAULT_LINUX_CMDLINE : given.strip());
        List<String> present = List.of(cmd.toString().split("\\s+"));
        for (String option : hostOptions) {
            if (!present.contains(option)) {
                cmd.append(' ').append(option);
                LOG.log(System.Logger.Level.INFO, "kernel option added for this host: " + option);
            }
        }
        return cmd.toString();
    }

    /** Reads a user-named input file, turning each way it can be wrong into one clear line. */
    static byte[] readInput(Path path, String what) throws ConfigException {
        if (Files.isDirectory(path)) {
            throw new ConfigException(what + " " + path + " is a directory, not a file");
        }
        try {
            return Files.readAllBytes(path);
        } catch (NoSuchFileException e) {
            throw new ConfigException(what + " file " + path + " does not exist");
        } catch (AccessDeniedException e) {
            throw new ConfigException(what + " file " + path + " cannot be read (permission denied)");
        } catch (IOException | OutOfMemoryError e) {
            throw new ConfigException(what + " file " + path + " cannot be read: " + e.getMessage());
        }
    }

    private static void closeAll(List<AutoCloseable> made) {
        for (int i = made.size() - 1; i >= 0; i--) {
            try {
                made.get(i).close();
            } catch (Exception ignored) {
                // best effort while unwinding a failed creation
            }
        }
    }

    /** Starts every vCPU thread. */
    public void start() {
        start(false);
    }

    /**
     * Starts every vCPU thread; with {@code paused}, each parks before its first instruction and the VM
     * is {@link State#PAUSED} until {@link #resume()} (a debugger attaching first, like QEMU's -S).
     */
    public synchronized void start(boolean paused) {
        if (state != State.CREATED) {
            throw new IllegalStateException("VM already started");
        }
        state = State.RUNNING;
        if (paused) {
            control.requestPause();
        }
        LOG.log(System.Logger.Level.INFO, () -> "starting vCPUs " + sinceProcessStart());
        devices.eventLoop().resume(); // a restored VM's device threads waited for this
        if (!devices.eventLoop().isEmpty()) {
            try {
                devices.eventLoop().start("devices");
            } catch (SysException e) {
                throw new IllegalStateException("device event loop: " + e.getMessage(), e);
            }
        }
        for (Vcpu v : vcpus) {
            Thread t = Thread.ofPlatform().name("vcpu-" + v.index()).daemon(true).unstarted(v);
            threads.add(t);
            t.start();
        }
        if (paused) {
            try {
                pause();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** The VM as a host debugger sees it (the GDB stub); inert until a debugger attaches. */
    public GuestDebugger debugger() {
        return debugger;
    }

    /**
     * A vCPU thread asks every vCPU, itself included, to park at its next exit (a debug stop); the
     * debugger's own thread then completes the pause with {@link #pause()}.
     */
    void requestPauseFromVcpu() {
        control.requestPause();
        for (Vcpu v : vcpus) {
            v.kick();
        }
    }

    /** Blocks until the guest ends, and says how. */
    public VmExit awaitExit() throws InterruptedException {
        try {
            return ended.get();
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        }
    }

    /** As {@link #awaitExit()}, or null if the guest is still running after {@code timeoutMillis}. */
    public VmExit awaitExit(long timeoutMillis) throws InterruptedException {
        try {
            return ended.get(timeoutMillis, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            return null;
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        }
    }

    /** Asks the VM to stop; {@link #awaitExit()} then reports {@link VmExit.Reason#STOPPED}. */
    public void stop() {
        exit(new VmExit(0, VmExit.Reason.STOPPED, "stopped by the host"));
    }

    /**
     * Parks every vCPU outside KVM_RUN with its last exit fully handled. Returns once all are parked.
     */
    public synchronized void pause() throws InterruptedException {
        if (state != State.RUNNING) {
            return;
        }
        control.requestPause();
        vcpus.forEach(Vcpu::kick);
        if (!control.awaitParked(10_000)) {
            throw new IllegalStateException("vCPUs did not pause within 10 s");
        }
        devices.eventLoop().pause(); // device work too: nothing touches guest memory while paused
        if (state == State.RUNNING) {
            state = State.PAUSED;
        }
    }

    /**
     * Runs a paused VM again; a guest in S3 it wakes instead (as {@link #wake()}): resuming is the
     * host's one way to say "carry on", whichever of the two stopped the guest.
     */
    public synchronized void resume() {
        if (state == State.SUSPENDED) {
            wake();
            return;
        }
        if (state != State.PAUSED) {
            return;
        }
        state = State.RUNNING;
        devices.eventLoop().resume();
        control.resume();
    }

    public State state() {
        return state;
    }

    /**
     * The guest wrote S3's sleep type with SLP_EN (on the calling vCPU's thread, inside that exit): the
     * machine goes to sleep as a PC does, its CPUs stopped and its devices quiet, until a wake event. The
     * vCPU that wrote parks as soon as this exit is done; a helper thread waits for all of them, since a
     * vCPU cannot wait for itself.
     */
    private void suspendToRam() {
        control.requestPause();
        Thread.ofPlatform().name("acpi-s3").daemon(true).start(() -> {
            try {
                finishSuspend();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
    }

    private synchronized void finishSuspend() throws InterruptedException {
        if (state == State.ENDED || state == State.CREATED) {
            return;
        }
        if (state == State.RUNNING) {
            control.requestPause(); // again: a host pause and resume in between would have cleared it
            vcpus.forEach(Vcpu::kick);
            if (!control.awaitParked(10_000)) {
                exit(VmExit.error("vCPUs did not stop for S3 within 10 s"));
                return;
            }
            devices.eventLoop().pause();
        }
        // PAUSED: the host paused the guest as it went to sleep; it is parked either way.
        state = State.SUSPENDED;
        LOG.log(System.Logger.Level.INFO, "guest suspended to RAM (S3)");
    }

    /**
     * A wake event for a guest in S3 (the host's resume, a console keypress): the boot CPU restarts at
     * the FACS's waking vector in the state a CPU is in after reset, the others wait for INIT and SIPI,
     * and PM1's WAK_STS tells the guest it woke. Nothing happens unless the guest is suspended.
     */
    public synchronized void wake() {
        if (state != State.SUSPENDED) {
            return;
        }
        vcpus.forEach(Vcpu::requestWake); // each vCPU resets itself, on its own thread, before it runs again
        devices.pm1().wake();
        state = State.RUNNING;
        devices.eventLoop().resume();
        control.resume();
        LOG.log(System.Logger.Level.INFO, "guest woke from S3");
    }

    /** On {@code vcpu}'s own thread, after a wake and before it enters the guest again. */
    private void wakeVcpu(Vcpu vcpu, VcpuFd fd, LapicState resetLapic) {
        try {
            // The vCPU parked right after an exit, maybe the boot CPU's OUT to PM1 control: KVM completes
            // such an instruction on the next KVM_RUN, which with immediate_exit returns at once. Done
            // now, it cannot land on the waking state below.
            int r = finishPendingExit(fd);
            if (r != -Errno.EINTR && r != 0) {
                exit(VmExit.error("waking vCPU " + vcpu.index() + ": KVM_RUN with immediate_exit returned " + r));
                return;
            }
            boolean bootCpu = vcpu.index() == 0;
            X86Cpu.WakeEntry entry = null;
            if (bootCpu) {
                entry = facsAddress == 0 ? null : X86Cpu.WakeEntry.fromFacs(memory, facsAddress).orElse(null);
                if (entry == null) {
                    exit(VmExit.error("the guest woke from S3 but left no usable waking vector in the FACS"));
                    return;
                }
                final X86Cpu.WakeEntry e = entry;
                LOG.log(System.Logger.Level.DEBUG, () -> "waking at 0x" + Long.toHexString(e.vector())
                        + (e.protectedMode() ? " (protected mode)" : " (real mode)"));
            }
            X86Cpu.wake(fd, bootCpu, entry, resetLapic);
        } catch (KvmException e) {
            exit(VmExit.error("waking vCPU " + vcpu.index() + " failed: " + e.getMessage()));
        }
    }

    public VmConfig config() {
        return config;
    }

    /**
     * Gives the guest console input, as if typed: blocks while the UART's receive FIFO is full, so
     * nothing is dropped. Returns early if the VM ends.
     */
    public void sendConsoleInput(byte[] data, int off, int len) throws InterruptedException {
        if (len > 0 && state == State.SUSPENDED) {
            wake(); // a keypress wakes a sleeping PC; the key itself is still delivered
        }
        while (len > 0 && state != State.ENDED) {
            int n;
            Uart16550 serial = devices.serial();
            synchronized (serial) {
                n = serial.receive(data, off, len);
            }
            off += n;
            len -= n;
            if (len > 0) {
                Thread.sleep(1);
            }
        }
    }

    /** Presses Ctrl-Alt-Del on the guest's keyboard controller. */
    public void sendCtrlAltDel() {
        I8042 i8042 = devices.i8042();
        synchronized (i8042) {
            i8042.sendCtrlAltDel();
        }
    }

    /**
     * Where a display server sends keys and pointer movement: the i8042's PS/2 keyboard and mouse, and
     * any virtio-input devices. Safe from any thread; events the guest has no room for are dropped.
     */
    public InputSink input() {
        return devices.input();
    }

    /**
     * The PCI display adapter's display (--display-adapter bochs), for display servers and screenshots;
     * empty without one. Its mode is null until the guest's driver sets one.
     */
    public Optional<vessel.devices.display.Display> displayAdapter() {
        return devices.displayAdapter();
    }

    /** KVM exits so far, summed over vCPUs, indexed by exit reason. */
    public long[] exitCounts() {
        long[] sum = new long[ExitReason.COUNT + 1];
        for (Vcpu v : vcpus) {
            long[] c = v.exitCounts();
            for (int i = 0; i < sum.length; i++) {
                sum[i] += c[i];
            }
        }
        return sum;
    }

    /**
     * Test hook, package-private so neither the CLI nor the API can reach it, and nothing on the normal
     * exit path: it adds a port-I/O device only when a test asks. A guest {@code out} to {@code port} makes
     * the emulation assist complete the instruction that follows the {@code out}, through the same
     * decode-complete-count path as a KVM_EXIT_INTERNAL_ERROR there. Test guests use it to have the assist,
     * not a host CPU that runs the instruction natively, execute each instruction it supports.
     * Single-vCPU VMs only, before {@link #start()}.
     */
    void installAssistProbe(int port) {
        if (state != State.CREATED || vcpuFds.size() != 1) {
            throw new IllegalStateException("the assist probe needs a single-vCPU VM that has not started");
        }
        VcpuFd fd = vcpuFds.getFirst();
        devices.pio().insert(port, 1, "assist-probe", new BusDevice() {
            @Override
            public long read(long offset, int size) {
                return 0;
            }

            @Override
            public void write(long offset, int size, long value) {
                try {
                    int r = finishPendingExit(fd);
                    if (r != -Errno.EINTR) {
                        exit(VmExit.error("assist probe: KVM_RUN with immediate_exit returned " + r));
                        return;
                    }
                    EmulationAssist.Result result = assist.completeAtRip(fd);
                    if (!result.handled()) {
                        exit(VmExit.error("assist probe: " + result.failure()));
                    }
                } catch (Exception e) {
                    exit(VmExit.error("assist probe failed: " + e));
                }
            }
        });
    }

    /**
     * KVM finishes an instruction that exited to user space (an OUT: RIP past it) on the next KVM_RUN;
     * with immediate_exit set that entry returns EINTR before the guest runs another instruction, so
     * state set afterwards is not overwritten by the pending completion. Returns KVM_RUN's result.
     */
    private static int finishPendingExit(VcpuFd fd) {
        KvmRun run = fd.kvmRun();
        run.setImmediateExit(true);
        try {
            return fd.run();
        } finally {
            run.setImmediateExit(false);
        }
    }

    /** The emulation assists run so far, as "int3=2 clac=40"; for tests. */
    String assistSummary() {
        return assist.summary();
    }

    /** Each virtio device's counters now, as totals since the VM was made, in the order the guest sees them. */
    public List<DeviceMetrics> deviceMetrics() {
        return devices.metrics();
    }

    /**
     * Points drive {@code id} at another image while the guest runs (same read-only mode); the guest is
     * told its capacity may have changed. On failure the drive keeps its image.
     */
    public void replaceDrive(String id, Path image) throws ConfigException, IOException {
        devices.replaceDrive(id, image);
    }

    /**
     * Changes drive {@code id}'s rate limiter while the guest runs (PATCH /drives): each bucket given
     * replaces the drive's, a null one stays; a bucket that does not limit removes that limit.
     */
    public void updateDriveRateLimiter(String id, vessel.devices.TokenBucket.Config bandwidth,
                                       vessel.devices.TokenBucket.Config ops) throws ConfigException {
        devices.device(vessel.devices.virtio.VirtioBlock.class, id, "drive").updateRateLimiter(bandwidth, ops);
    }

    /** Changes interface {@code id}'s rate limiters (PATCH /network-interfaces); null leaves a direction alone. */
    public void updateNetRateLimiters(String id, vessel.devices.RateLimiter.Config rx,
                                      vessel.devices.RateLimiter.Config tx) throws ConfigException {
        devices.device(vessel.devices.virtio.VirtioNet.class, id, "network interface").updateRateLimiters(rx, tx);
    }

    /** Changes pmem device {@code id}'s rate limiter (PATCH /pmem); a null bucket stays as it is. */
    public void updatePmemRateLimiter(String id, vessel.devices.TokenBucket.Config bandwidth,
                                      vessel.devices.TokenBucket.Config ops) throws ConfigException {
        devices.device(vessel.devices.virtio.VirtioPmem.class, id, "pmem device").updateRateLimiter(bandwidth, ops);
    }

    /** The balloon device, or null when the VM has none. */
    public vessel.devices.virtio.VirtioBalloon balloon() {
        return devices.balloon();
    }

    /** The hot-pluggable memory's virtio-mem device, or null when the VM has none. */
    public vessel.devices.virtio.VirtioMem memoryHotplug() {
        return devices.memoryHotplug();
    }

    /**
     * The guest's display, for display servers and screenshots: the PCI display adapter's once the guest's
     * driver has set a mode on it (a monitor shows the card the driver took over), otherwise the boot
     * framebuffer of {@link VmConfig#display()}; empty with neither. Reads of its framebuffer fail
     * (IllegalStateException) once the VM is closed.
     */
    public Optional<vessel.devices.display.Display> display() {
        Optional<vessel.devices.display.Display> adapter = devices.displayAdapter();
        if (adapter.isPresent() && adapter.get().mode() != null) {
            return adapter;
        }
        return Optional.ofNullable(framebuffer).map(BootFramebuffer::display);
    }

    /** Guest memory, for embedding programs and tests that inspect the guest. */
    public GuestMemory memory() {
        return memory;
    }

    void exit(VmExit e) {
        if (exit.compareAndSet(null, e)) {
            LOG.log(System.Logger.Level.DEBUG, "VM ending: " + e.reason() + ": " + e.detail());
        }
        control.requestStop();
        for (Vcpu v : vcpus) {
            v.kick();
        }
    }

    private void vcpuEnded() {
        if (!control.vcpuFinished()) {
            return;
        }
        devices.serial().flush();
        state = State.ENDED;
        exit.compareAndSet(null, new VmExit(0, VmExit.Reason.STOPPED, "all vCPUs ended"));
        String assists = assist.summary();
        if (!assists.isEmpty()) {
            LOG.log(System.Logger.Level.INFO, "emulation assists: " + assists);
        }
        LOG.log(System.Logger.Level.DEBUG, () -> "exits: " + describeExits(exitCounts()));
        ended.complete(exit.get());
        debugger.vmEnded();
    }

    static String describeExits(long[] counts) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < counts.length; i++) {
            if (counts[i] > 0) {
                sb.append(sb.isEmpty() ? "" : " ")
                        .append(i == ExitReason.COUNT ? "KICKED" : ExitReason.name(i)).append('=').append(counts[i]);
            }
        }
        return sb.toString();
    }


    @Override
    public void close() {
        if (state != State.CREATED && state != State.ENDED) {
            stop();
        }
        for (Thread t : threads) {
            try {
                t.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        boolean threadsDone = threads.stream().noneMatch(Thread::isAlive);
        if (!threadsDone) {
            LOG.log(System.Logger.Level.WARNING, "vCPU threads still running at close; leaving KVM resources open");
            return;
        }
        // Devices close their backends (a block device syncs its image) before the VM's fds go.
        devices.close();
        vcpuFds.forEach(VcpuFd::close);
        vmFd.close();
        memory.close();
        if (firmwareMemory != null) {
            firmwareMemory.close(); // after the VM fd: KVM maps the ROM until its slots go
        }
        kvm.close();
    }

}
