package vessel.api;

import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.annotation.JsonSetter;
import com.fasterxml.jackson.annotation.Nulls;

/**
 * Firecracker's request and response bodies (the definitions of its swagger file), field for field.
 * Unknown fields are refused, as Firecracker's {@code deny_unknown_fields} does ({@link Json}); a required
 * field is marked {@code required} and refuses null. Optional fields are null when absent.
 */
final class Model {
    private Model() {}

    @JsonInclude(JsonInclude.Include.NON_NULL)
    record BootSource(
            @JsonProperty(value = "kernel_image_path", required = true) @JsonSetter(nulls = Nulls.FAIL) String kernelImagePath,
            @JsonProperty("initrd_path") String initrdPath,
            @JsonProperty("boot_args") String bootArgs) { }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonPropertyOrder({"vcpu_count", "mem_size_mib", "smt", "track_dirty_pages", "cpu_template", "huge_pages"})
    record MachineConfig(
            @JsonProperty(value = "vcpu_count", required = true) @JsonSetter(nulls = Nulls.FAIL) Integer vcpuCount,
            @JsonProperty(value = "mem_size_mib", required = true) @JsonSetter(nulls = Nulls.FAIL) Long memSizeMib,
            @JsonProperty("smt") Boolean smt,
            @JsonProperty("track_dirty_pages") Boolean trackDirtyPages,
            @JsonProperty("cpu_template") String cpuTemplate,
            @JsonProperty("huge_pages") String hugePages) { }

    /** PATCH /machine-config: every field optional. */
    record MachineConfigUpdate(
            @JsonProperty("vcpu_count") Integer vcpuCount,
            @JsonProperty("mem_size_mib") Long memSizeMib,
            @JsonProperty("smt") Boolean smt,
            @JsonProperty("track_dirty_pages") Boolean trackDirtyPages,
            @JsonProperty("cpu_template") String cpuTemplate,
            @JsonProperty("huge_pages") String hugePages) {
        boolean isEmpty() {
            return vcpuCount == null && memSizeMib == null && smt == null && trackDirtyPages == null
                    && cpuTemplate == null && hugePages == null;
        }
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    record TokenBucket(
            @JsonProperty(value = "size", required = true) @JsonSetter(nulls = Nulls.FAIL) Long size,
            @JsonProperty("one_time_burst") Long oneTimeBurst,
            @JsonProperty(value = "refill_time", required = true) @JsonSetter(nulls = Nulls.FAIL) Long refillTime) { }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    record RateLimiter(
            @JsonProperty("bandwidth") TokenBucket bandwidth,
            @JsonProperty("ops") TokenBucket ops) {
        boolean limits() {
            return bandwidth != null || ops != null;
        }
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonPropertyOrder({"drive_id", "partuuid", "is_root_device", "cache_type", "is_read_only", "path_on_host",
            "rate_limiter", "io_engine", "socket"})
    record Drive(
            @JsonProperty(value = "drive_id", required = true) @JsonSetter(nulls = Nulls.FAIL) String driveId,
            @JsonProperty("partuuid") String partuuid,
            @JsonProperty(value = "is_root_device", required = true) @JsonSetter(nulls = Nulls.FAIL) Boolean isRootDevice,
            @JsonProperty("cache_type") String cacheType,
            @JsonProperty("is_read_only") Boolean isReadOnly,
            @JsonProperty("path_on_host") String pathOnHost,
            @JsonProperty("rate_limiter") RateLimiter rateLimiter,
            @JsonProperty("io_engine") String ioEngine,
            @JsonProperty("socket") String socket) { }

    /** PATCH /drives/{id}. */
    record PartialDrive(
            @JsonProperty(value = "drive_id", required = true) @JsonSetter(nulls = Nulls.FAIL) String driveId,
            @JsonProperty("path_on_host") String pathOnHost,
            @JsonProperty("rate_limiter") RateLimiter rateLimiter) { }

    /** PUT /pmem/{id}, and the config file's pmem list. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonPropertyOrder({"id", "path_on_host", "root_device", "read_only", "rate_limiter"})
    record Pmem(
            @JsonProperty(value = "id", required = true) @JsonSetter(nulls = Nulls.FAIL) String id,
            @JsonProperty(value = "path_on_host", required = true) @JsonSetter(nulls = Nulls.FAIL) String pathOnHost,
            @JsonProperty("root_device") Boolean rootDevice,
            @JsonProperty("read_only") Boolean readOnly,
            @JsonProperty("rate_limiter") RateLimiter rateLimiter) { }

    /** PATCH /pmem/{id}: only the rate limiter changes after boot. */
    record PartialPmem(
            @JsonProperty(value = "id", required = true) @JsonSetter(nulls = Nulls.FAIL) String id,
            @JsonProperty("rate_limiter") RateLimiter rateLimiter) { }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonPropertyOrder({"iface_id", "guest_mac", "host_dev_name", "mtu", "rx_rate_limiter", "tx_rate_limiter"})
    record NetworkInterface(
            @JsonProperty(value = "iface_id", required = true) @JsonSetter(nulls = Nulls.FAIL) String ifaceId,
            @JsonProperty("guest_mac") String guestMac,
            @JsonProperty(value = "host_dev_name", required = true) @JsonSetter(nulls = Nulls.FAIL) String hostDevName,
            @JsonProperty("mtu") Integer mtu,
            @JsonProperty("rx_rate_limiter") RateLimiter rxRateLimiter,
            @JsonProperty("tx_rate_limiter") RateLimiter txRateLimiter) { }

    /** PATCH /network-interfaces/{id}. */
    record PartialNetworkInterface(
            @JsonProperty(value = "iface_id", required = true) @JsonSetter(nulls = Nulls.FAIL) String ifaceId,
            @JsonProperty("rx_rate_limiter") RateLimiter rxRateLimiter,
            @JsonProperty("tx_rate_limiter") RateLimiter txRateLimiter) { }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    record Vsock(
            @JsonProperty(value = "guest_cid", required = true) @JsonSetter(nulls = Nulls.FAIL) Long guestCid,
            @JsonProperty(value = "uds_path", required = true) @JsonSetter(nulls = Nulls.FAIL) String udsPath,
            @JsonProperty("vsock_id") String vsockId) { }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    record Entropy(@JsonProperty("rate_limiter") RateLimiter rateLimiter) { }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    record Logger(
            @JsonProperty("level") String level,
            @JsonProperty("log_path") String logPath,
            @JsonProperty("show_level") Boolean showLevel,
            @JsonProperty("show_log_origin") Boolean showLogOrigin,
            @JsonProperty("module") String module) { }

    /** Firecracker's MetricsConfig has no deny_unknown_fields: unknown fields are ignored, not refused. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @com.fasterxml.jackson.annotation.JsonIgnoreProperties(ignoreUnknown = true)
    record Metrics(
            @JsonProperty(value = "metrics_path", required = true) @JsonSetter(nulls = Nulls.FAIL) String metricsPath,
            @JsonProperty("emit_id") Boolean emitId,
            @JsonProperty("properties") Map<String, String> properties) { }

    // ---- balloon, serial and CPU configuration (issue 18) ----

    /** PUT /balloon, GET /balloon. amount_mib is a u32 and the interval a u16 in Firecracker: read wide, checked. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonPropertyOrder({"amount_mib", "deflate_on_oom", "stats_polling_interval_s", "free_page_hinting",
            "free_page_reporting"})
    record Balloon(
            @JsonProperty(value = "amount_mib", required = true) @JsonSetter(nulls = Nulls.FAIL) Long amountMib,
            @JsonProperty(value = "deflate_on_oom", required = true) @JsonSetter(nulls = Nulls.FAIL) Boolean deflateOnOom,
            @JsonProperty("stats_polling_interval_s") Long statsPollingIntervalS,
            @JsonProperty("free_page_hinting") Boolean freePageHinting,
            @JsonProperty("free_page_reporting") Boolean freePageReporting) { }

    /** PATCH /balloon. */
    record BalloonUpdate(
            @JsonProperty(value = "amount_mib", required = true) @JsonSetter(nulls = Nulls.FAIL) Long amountMib) { }

    /** PATCH /balloon/statistics. */
    record BalloonStatsUpdate(
            @JsonProperty(value = "stats_polling_interval_s", required = true) @JsonSetter(nulls = Nulls.FAIL)
            Long statsPollingIntervalS) { }

    /** GET /balloon/statistics: the four counts always, the guest's statistics where it gave them. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonPropertyOrder({"target_pages", "actual_pages", "target_mib", "actual_mib", "swap_in", "swap_out",
            "major_faults", "minor_faults", "free_memory", "total_memory", "available_memory", "disk_caches",
            "hugetlb_allocations", "hugetlb_failures", "oom_kill", "alloc_stall", "async_scan", "direct_scan",
            "async_reclaim", "direct_reclaim"})
    record BalloonStats(
            @JsonProperty("target_pages") long targetPages,
            @JsonProperty("actual_pages") long actualPages,
            @JsonProperty("target_mib") long targetMib,
            @JsonProperty("actual_mib") long actualMib,
            @JsonProperty("swap_in") Long swapIn,
            @JsonProperty("swap_out") Long swapOut,
            @JsonProperty("major_faults") Long majorFaults,
            @JsonProperty("minor_faults") Long minorFaults,
            @JsonProperty("free_memory") Long freeMemory,
            @JsonProperty("total_memory") Long totalMemory,
            @JsonProperty("available_memory") Long availableMemory,
            @JsonProperty("disk_caches") Long diskCaches,
            @JsonProperty("hugetlb_allocations") Long hugetlbAllocations,
            @JsonProperty("hugetlb_failures") Long hugetlbFailures,
            @JsonProperty("oom_kill") Long oomKill,
            @JsonProperty("alloc_stall") Long allocStall,
            @JsonProperty("async_scan") Long asyncScan,
            @JsonProperty("direct_scan") Long directScan,
            @JsonProperty("async_reclaim") Long asyncReclaim,
            @JsonProperty("direct_reclaim") Long directReclaim) { }

    /** PATCH /balloon/hinting/start (the body is optional; Firecracker's StartHintingCmd ignores unknown fields). */
    @com.fasterxml.jackson.annotation.JsonIgnoreProperties(ignoreUnknown = true)
    record BalloonStartCmd(@JsonProperty("acknowledge_on_stop") Boolean acknowledgeOnStop) { }

    /** GET /balloon/hinting/status. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    record BalloonHintingStatus(
            @JsonProperty("host_cmd") int hostCmd,
            @JsonProperty("guest_cmd") Integer guestCmd) { }

    /** PUT /hotplug/memory (Firecracker's MemoryHotplugConfig: usize sizes, read wide and checked). */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonPropertyOrder({"total_size_mib", "block_size_mib", "slot_size_mib"})
    record MemoryHotplugConfig(
            @JsonProperty(value = "total_size_mib", required = true) @JsonSetter(nulls = Nulls.FAIL) Long totalSizeMib,
            @JsonProperty("block_size_mib") Long blockSizeMib,
            @JsonProperty("slot_size_mib") Long slotSizeMib) { }

    /** PATCH /hotplug/memory. */
    record MemoryHotplugSizeUpdate(
            @JsonProperty(value = "requested_size_mib", required = true) @JsonSetter(nulls = Nulls.FAIL)
            Long requestedSizeMib) { }

    /** GET /hotplug/memory. */
    @JsonPropertyOrder({"total_size_mib", "slot_size_mib", "block_size_mib", "plugged_size_mib", "requested_size_mib"})
    record MemoryHotplugStatus(
            @JsonProperty("total_size_mib") long totalSizeMib,
            @JsonProperty("slot_size_mib") long slotSizeMib,
            @JsonProperty("block_size_mib") long blockSizeMib,
            @JsonProperty("plugged_size_mib") long pluggedSizeMib,
            @JsonProperty("requested_size_mib") long requestedSizeMib) { }

    /** PUT /serial. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    record SerialDevice(
            @JsonProperty("serial_out_path") String serialOutPath,
            @JsonProperty("rate_limiter") TokenBucket rateLimiter) { }

    /** A CPUID register modifier: {@code bitmap} is "0b" and 32 of 0, 1 or x (leave the bit). */
    record CpuidRegisterModifier(
            @JsonProperty(value = "register", required = true) @JsonSetter(nulls = Nulls.FAIL) String register,
            @JsonProperty(value = "bitmap", required = true) @JsonSetter(nulls = Nulls.FAIL) String bitmap) { }

    record CpuidLeafModifier(
            @JsonProperty(value = "leaf", required = true) @JsonSetter(nulls = Nulls.FAIL) String leaf,
            @JsonProperty(value = "subleaf", required = true) @JsonSetter(nulls = Nulls.FAIL) String subleaf,
            @JsonProperty(value = "flags", required = true) @JsonSetter(nulls = Nulls.FAIL) Integer flags,
            @JsonProperty(value = "modifiers", required = true) @JsonSetter(nulls = Nulls.FAIL)
            List<CpuidRegisterModifier> modifiers) { }

    /** An MSR modifier: {@code bitmap} is "0b" and 64 of 0, 1 or x. */
    record MsrModifier(
            @JsonProperty(value = "addr", required = true) @JsonSetter(nulls = Nulls.FAIL) String addr,
            @JsonProperty(value = "bitmap", required = true) @JsonSetter(nulls = Nulls.FAIL) String bitmap) { }

    /**
     * PUT /cpu-config on x86-64: Firecracker's custom CPU template there has these three fields (the
     * aarch64 ones, reg_modifiers and vcpu_features, are unknown fields on this architecture).
     */
    @JsonInclude(JsonInclude.Include.NON_EMPTY)
    record CpuConfig(
            @JsonProperty("kvm_capabilities") List<String> kvmCapabilities,
            @JsonProperty("cpuid_modifiers") List<CpuidLeafModifier> cpuidModifiers,
            @JsonProperty("msr_modifiers") List<MsrModifier> msrModifiers) {
        CpuConfig {
            kvmCapabilities = kvmCapabilities == null ? List.of() : kvmCapabilities;
            cpuidModifiers = cpuidModifiers == null ? List.of() : cpuidModifiers;
            msrModifiers = msrModifiers == null ? List.of() : msrModifiers;
        }
    }

    // ---- end of issue 18's block ----

    enum ActionType { FlushMetrics, InstanceStart, SendCtrlAltDel }

    record InstanceActionInfo(
            @JsonProperty(value = "action_type", required = true) @JsonSetter(nulls = Nulls.FAIL) ActionType actionType) { }

    enum VmState { Paused, Resumed }

    enum SnapshotType { Full, Diff }

    /** PUT /snapshot/create. */
    record SnapshotCreateParams(
            @JsonProperty(value = "mem_file_path", required = true) @JsonSetter(nulls = Nulls.FAIL) String memFilePath,
            @JsonProperty(value = "snapshot_path", required = true) @JsonSetter(nulls = Nulls.FAIL) String snapshotPath,
            @JsonProperty("snapshot_type") SnapshotType snapshotType) { }

    enum MemoryBackendType { File, Uffd }

    record MemoryBackend(
            @JsonProperty(value = "backend_type", required = true) @JsonSetter(nulls = Nulls.FAIL) MemoryBackendType backendType,
            @JsonProperty(value = "backend_path", required = true) @JsonSetter(nulls = Nulls.FAIL) String backendPath) { }

    record NetworkOverride(
            @JsonProperty(value = "iface_id", required = true) @JsonSetter(nulls = Nulls.FAIL) String ifaceId,
            @JsonProperty(value = "host_dev_name", required = true) @JsonSetter(nulls = Nulls.FAIL) String hostDevName) { }

    record VsockOverride(
            @JsonProperty(value = "uds_path", required = true) @JsonSetter(nulls = Nulls.FAIL) String udsPath) { }

    /** PUT /snapshot/load; exactly one of mem_file_path (deprecated) and mem_backend. */
    record SnapshotLoadParams(
            @JsonProperty("enable_diff_snapshots") Boolean enableDiffSnapshots,
            @JsonProperty("track_dirty_pages") Boolean trackDirtyPages,
            @JsonProperty("mem_file_path") String memFilePath,
            @JsonProperty("mem_backend") MemoryBackend memBackend,
            @JsonProperty(value = "snapshot_path", required = true) @JsonSetter(nulls = Nulls.FAIL) String snapshotPath,
            @JsonProperty("resume_vm") Boolean resumeVm,
            @JsonProperty("network_overrides") List<NetworkOverride> networkOverrides,
            @JsonProperty("vsock_override") VsockOverride vsockOverride,
            @JsonProperty("clock_realtime") Boolean clockRealtime,
            @JsonProperty("huge_pages") String hugePages) { }

    record Vm(@JsonProperty(value = "state", required = true) @JsonSetter(nulls = Nulls.FAIL) VmState state) { }

    @JsonPropertyOrder({"id", "state", "vmm_version", "app_name"})
    record InstanceInfo(
            @JsonProperty("id") String id,
            @JsonProperty("state") String state,
            @JsonProperty("vmm_version") String vmmVersion,
            @JsonProperty("app_name") String appName) { }

    record Version(@JsonProperty("firecracker_version") String firecrackerVersion) { }

    record Fault(@JsonProperty("fault_message") String faultMessage) { }

    enum MmdsVersion { V1, V2 }

    /** PUT /mmds/config and the config file's "mmds-config". */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonPropertyOrder({"version", "network_interfaces", "ipv4_address", "imds_compat"})
    record MmdsConfig(
            @JsonProperty("version") MmdsVersion version,
            @JsonProperty(value = "network_interfaces", required = true) @JsonSetter(nulls = Nulls.FAIL)
            List<String> networkInterfaces,
            @JsonProperty("ipv4_address") String ipv4Address,
            @JsonProperty("imds_compat") Boolean imdsCompat) { }

    /**
     * Firecracker's config file ({@code --config-file}) and {@code GET /vm/config}. The keys Vessel has no
     * device for are accepted only when null or empty (none is left now), so that
     * Firecracker's own example files load unchanged.
     */
    @JsonPropertyOrder({"balloon", "drives", "boot-source", "cpu-config", "logger", "machine-config", "metrics",
            "mmds-config", "network-interfaces", "vsock", "entropy"})
    record FullVmConfiguration(
            @JsonProperty("balloon") @JsonInclude(JsonInclude.Include.ALWAYS) Balloon balloon,
            @JsonProperty("drives") List<Drive> drives,
            @JsonProperty("boot-source") BootSource bootSource,
            @JsonProperty("cpu-config") @JsonInclude(JsonInclude.Include.ALWAYS) CpuConfig cpuConfig,
            @JsonProperty("logger") @JsonInclude(JsonInclude.Include.ALWAYS) Logger logger,
            @JsonProperty("machine-config") MachineConfig machineConfig,
            @JsonProperty("metrics") @JsonInclude(JsonInclude.Include.ALWAYS) Metrics metrics,
            @JsonProperty("mmds-config") @JsonInclude(JsonInclude.Include.ALWAYS) MmdsConfig mmdsConfig,
            @JsonProperty("network-interfaces") List<NetworkInterface> networkInterfaces,
            @JsonProperty("vsock") @JsonInclude(JsonInclude.Include.ALWAYS) Vsock vsock,
            @JsonProperty("entropy") @JsonInclude(JsonInclude.Include.ALWAYS) Entropy entropy,
            @JsonProperty("pmem") @JsonInclude(JsonInclude.Include.NON_EMPTY) List<Pmem> pmem,
            @JsonProperty("memory-hotplug") @JsonInclude(JsonInclude.Include.NON_NULL) MemoryHotplugConfig memoryHotplug,
            @JsonProperty("serial") @JsonInclude(JsonInclude.Include.NON_NULL) SerialDevice serial) {
        FullVmConfiguration {
            drives = drives == null ? List.of() : drives;
            networkInterfaces = networkInterfaces == null ? List.of() : networkInterfaces;
        }
    }
}
