package vessel.api;

import java.util.List;
import java.util.Map;

import vessel.json.JsonObject;
import vessel.json.JsonValue;
import vessel.json.JsonWritable;

/**
 * Firecracker's request and response bodies (the definitions of its swagger file), field for field, each
 * bound by hand: {@code fromJson} reads one with {@link Fields} (unknown fields refused, as Firecracker's
 * {@code deny_unknown_fields}; a required field missing or null refused; optional fields null when absent),
 * {@code toJson} writes one in Firecracker's field order, leaving out what Firecracker leaves out.
 */
final class Model {
    private Model() {}

    record BootSource(String kernelImagePath, String initrdPath, String bootArgs) implements JsonWritable {
        static BootSource fromJson(JsonValue v, String path) throws ApiException {
            Fields f = Fields.of(v, path, "BootSource", "kernel_image_path", "initrd_path", "boot_args");
            return new BootSource(f.requiredString("kernel_image_path"), f.string("initrd_path"), f.string("boot_args"));
        }

        @Override
        public JsonValue toJson() {
            return JsonObject.builder().putPresent("kernel_image_path", kernelImagePath)
                    .putPresent("initrd_path", initrdPath).putPresent("boot_args", bootArgs).build();
        }
    }

    record MachineConfig(Integer vcpuCount, Long memSizeMib, Boolean smt, Boolean trackDirtyPages, String cpuTemplate,
                         String hugePages) implements JsonWritable {
        static MachineConfig fromJson(JsonValue v, String path) throws ApiException {
            Fields f = Fields.of(v, path, "MachineConfig", "vcpu_count", "mem_size_mib", "smt", "track_dirty_pages",
                    "cpu_template", "huge_pages");
            return new MachineConfig(f.requiredInt32("vcpu_count"), f.requiredInt64("mem_size_mib"), f.bool("smt"),
                    f.bool("track_dirty_pages"), f.string("cpu_template"), f.string("huge_pages"));
        }

        @Override
        public JsonValue toJson() {
            return JsonObject.builder().putPresent("vcpu_count", vcpuCount).putPresent("mem_size_mib", memSizeMib)
                    .putPresent("smt", smt).putPresent("track_dirty_pages", trackDirtyPages)
                    .putPresent("cpu_template", cpuTemplate).putPresent("huge_pages", hugePages).build();
        }
    }

    /** PATCH /machine-config: every field optional. */
    record MachineConfigUpdate(Integer vcpuCount, Long memSizeMib, Boolean smt, Boolean trackDirtyPages,
                               String cpuTemplate, String hugePages) {
        static MachineConfigUpdate fromJson(JsonValue v, String path) throws ApiException {
            Fields f = Fields.of(v, path, "MachineConfigUpdate", "vcpu_count", "mem_size_mib", "smt",
                    "track_dirty_pages", "cpu_template", "huge_pages");
            return new MachineConfigUpdate(f.int32("vcpu_count"), f.int64("mem_size_mib"), f.bool("smt"),
                    f.bool("track_dirty_pages"), f.string("cpu_template"), f.string("huge_pages"));
        }

        boolean isEmpty() {
            return vcpuCount == null && memSizeMib == null && smt == null && trackDirtyPages == null
                    && cpuTemplate == null && hugePages == null;
        }
    }

    record TokenBucket(Long size, Long oneTimeBurst, Long refillTime) implements JsonWritable {
        static TokenBucket fromJson(JsonValue v, String path) throws ApiException {
            Fields f = Fields.of(v, path, "TokenBucket", "size", "one_time_burst", "refill_time");
            return new TokenBucket(f.requiredInt64("size"), f.int64("one_time_burst"), f.requiredInt64("refill_time"));
        }

        @Override
        public JsonValue toJson() {
            return JsonObject.builder().putPresent("size", size).putPresent("one_time_burst", oneTimeBurst)
                    .putPresent("refill_time", refillTime).build();
        }
    }

    record RateLimiter(TokenBucket bandwidth, TokenBucket ops) implements JsonWritable {
        static RateLimiter fromJson(JsonValue v, String path) throws ApiException {
            Fields f = Fields.of(v, path, "RateLimiter", "bandwidth", "ops");
            return new RateLimiter(f.object("bandwidth", TokenBucket::fromJson), f.object("ops", TokenBucket::fromJson));
        }

        boolean limits() {
            return bandwidth != null || ops != null;
        }

        @Override
        public JsonValue toJson() {
            return JsonObject.builder().putPresent("bandwidth", bandwidth).putPresent("ops", ops).build();
        }
    }

    record Drive(String driveId, String partuuid, Boolean isRootDevice, String cacheType, Boolean isReadOnly,
                 String pathOnHost, RateLimiter rateLimiter, String ioEngine, String socket) implements JsonWritable {
        static Drive fromJson(JsonValue v, String path) throws ApiException {
            Fields f = Fields.of(v, path, "Drive", "drive_id", "partuuid", "is_root_device", "cache_type",
                    "is_read_only", "path_on_host", "rate_limiter", "io_engine", "socket");
            return new Drive(f.requiredString("drive_id"), f.string("partuuid"), f.requiredBool("is_root_device"),
                    f.string("cache_type"), f.bool("is_read_only"), f.string("path_on_host"),
                    f.object("rate_limiter", RateLimiter::fromJson), f.string("io_engine"), f.string("socket"));
        }

        @Override
        public JsonValue toJson() {
            return JsonObject.builder().putPresent("drive_id", driveId).putPresent("partuuid", partuuid)
                    .putPresent("is_root_device", isRootDevice).putPresent("cache_type", cacheType)
                    .putPresent("is_read_only", isReadOnly).putPresent("path_on_host", pathOnHost)
                    .putPresent("rate_limiter", rateLimiter).putPresent("io_engine", ioEngine)
                    .putPresent("socket", socket).build();
        }
    }

    /** PATCH /drives/{id}. */
    record PartialDrive(String driveId, String pathOnHost, RateLimiter rateLimiter) {
        static PartialDrive fromJson(JsonValue v, String path) throws ApiException {
            Fields f = Fields.of(v, path, "PartialDrive", "drive_id", "path_on_host", "rate_limiter");
            return new PartialDrive(f.requiredString("drive_id"), f.string("path_on_host"),
                    f.object("rate_limiter", RateLimiter::fromJson));
        }
    }

    /** PUT /pmem/{id}, and the config file's pmem list. */
    record Pmem(String id, String pathOnHost, Boolean rootDevice, Boolean readOnly, RateLimiter rateLimiter)
            implements JsonWritable {
        static Pmem fromJson(JsonValue v, String path) throws ApiException {
            Fields f = Fields.of(v, path, "Pmem", "id", "path_on_host", "root_device", "read_only", "rate_limiter");
            return new Pmem(f.requiredString("id"), f.requiredString("path_on_host"), f.bool("root_device"),
                    f.bool("read_only"), f.object("rate_limiter", RateLimiter::fromJson));
        }

        @Override
        public JsonValue toJson() {
            return JsonObject.builder().putPresent("id", id).putPresent("path_on_host", pathOnHost)
                    .putPresent("root_device", rootDevice).putPresent("read_only", readOnly)
                    .putPresent("rate_limiter", rateLimiter).build();
        }
    }

    /** PATCH /pmem/{id}: only the rate limiter changes after boot. */
    record PartialPmem(String id, RateLimiter rateLimiter) {
        static PartialPmem fromJson(JsonValue v, String path) throws ApiException {
            Fields f = Fields.of(v, path, "PartialPmem", "id", "rate_limiter");
            return new PartialPmem(f.requiredString("id"), f.object("rate_limiter", RateLimiter::fromJson));
        }
    }

    record NetworkInterface(String ifaceId, String guestMac, String hostDevName, Integer mtu,
                            RateLimiter rxRateLimiter, RateLimiter txRateLimiter) implements JsonWritable {
        static NetworkInterface fromJson(JsonValue v, String path) throws ApiException {
            Fields f = Fields.of(v, path, "NetworkInterface", "iface_id", "guest_mac", "host_dev_name", "mtu",
                    "rx_rate_limiter", "tx_rate_limiter");
            return new NetworkInterface(f.requiredString("iface_id"), f.string("guest_mac"),
                    f.requiredString("host_dev_name"), f.int32("mtu"), f.object("rx_rate_limiter", RateLimiter::fromJson),
                    f.object("tx_rate_limiter", RateLimiter::fromJson));
        }

        @Override
        public JsonValue toJson() {
            return JsonObject.builder().putPresent("iface_id", ifaceId).putPresent("guest_mac", guestMac)
                    .putPresent("host_dev_name", hostDevName).putPresent("mtu", mtu)
                    .putPresent("rx_rate_limiter", rxRateLimiter).putPresent("tx_rate_limiter", txRateLimiter).build();
        }
    }

    /** PATCH /network-interfaces/{id}. */
    record PartialNetworkInterface(String ifaceId, RateLimiter rxRateLimiter, RateLimiter txRateLimiter) {
        static PartialNetworkInterface fromJson(JsonValue v, String path) throws ApiException {
            Fields f = Fields.of(v, path, "PartialNetworkInterface", "iface_id", "rx_rate_limiter", "tx_rate_limiter");
            return new PartialNetworkInterface(f.requiredString("iface_id"),
                    f.object("rx_rate_limiter", RateLimiter::fromJson), f.object("tx_rate_limiter", RateLimiter::fromJson));
        }
    }

    record Vsock(Long guestCid, String udsPath, String vsockId) implements JsonWritable {
        static Vsock fromJson(JsonValue v, String path) throws ApiException {
            Fields f = Fields.of(v, path, "Vsock", "guest_cid", "uds_path", "vsock_id");
            return new Vsock(f.requiredInt64("guest_cid"), f.requiredString("uds_path"), f.string("vsock_id"));
        }

        @Override
        public JsonValue toJson() {
            return JsonObject.builder().putPresent("guest_cid", guestCid).putPresent("uds_path", udsPath)
                    .putPresent("vsock_id", vsockId).build();
        }
    }

    record Entropy(RateLimiter rateLimiter) implements JsonWritable {
        static Entropy fromJson(JsonValue v, String path) throws ApiException {
            Fields f = Fields.of(v, path, "EntropyDeviceConfig", "rate_limiter");
            return new Entropy(f.object("rate_limiter", RateLimiter::fromJson));
        }

        @Override
        public JsonValue toJson() {
            return JsonObject.builder().putPresent("rate_limiter", rateLimiter).build();
        }
    }

    record Logger(String level, String logPath, Boolean showLevel, Boolean showLogOrigin, String module)
            implements JsonWritable {
        static Logger fromJson(JsonValue v, String path) throws ApiException {
            Fields f = Fields.of(v, path, "LoggerConfig", "level", "log_path", "show_level", "show_log_origin", "module");
            return new Logger(f.string("level"), f.string("log_path"), f.bool("show_level"), f.bool("show_log_origin"),
                    f.string("module"));
        }

        @Override
        public JsonValue toJson() {
            return JsonObject.builder().putPresent("level", level).putPresent("log_path", logPath)
                    .putPresent("show_level", showLevel).putPresent("show_log_origin", showLogOrigin)
                    .putPresent("module", module).build();
        }
    }

    /** Firecracker's MetricsConfig has no deny_unknown_fields: unknown fields are ignored, not refused. */
    record Metrics(String metricsPath, Boolean emitId, Map<String, String> properties) implements JsonWritable {
        static Metrics fromJson(JsonValue v, String path) throws ApiException {
            Fields f = Fields.lenient(v, path, "MetricsConfig");
            return new Metrics(f.requiredString("metrics_path"), f.bool("emit_id"), f.stringMap("properties"));
        }

        @Override
        public JsonValue toJson() {
            return JsonObject.builder().putPresent("metrics_path", metricsPath).putPresent("emit_id", emitId)
                    .putPresent("properties", properties).build();
        }
    }

    // ---- balloon, serial and CPU configuration (issue 18) ----

    /** PUT /balloon, GET /balloon. amount_mib is a u32 and the interval a u16 in Firecracker: read wide, checked. */
    record Balloon(Long amountMib, Boolean deflateOnOom, Long statsPollingIntervalS, Boolean freePageHinting,
                   Boolean freePageReporting) implements JsonWritable {
        static Balloon fromJson(JsonValue v, String path) throws ApiException {
            Fields f = Fields.of(v, path, "Balloon", "amount_mib", "deflate_on_oom", "stats_polling_interval_s",
                    "free_page_hinting", "free_page_reporting");
            return new Balloon(f.requiredInt64("amount_mib"), f.requiredBool("deflate_on_oom"),
                    f.int64("stats_polling_interval_s"), f.bool("free_page_hinting"), f.bool("free_page_reporting"));
        }

        @Override
        public JsonValue toJson() {
            return JsonObject.builder().putPresent("amount_mib", amountMib).putPresent("deflate_on_oom", deflateOnOom)
                    .putPresent("stats_polling_interval_s", statsPollingIntervalS)
                    .putPresent("free_page_hinting", freePageHinting)
                    .putPresent("free_page_reporting", freePageReporting).build();
        }
    }

    /** PATCH /balloon. */
    record BalloonUpdate(Long amountMib) {
        static BalloonUpdate fromJson(JsonValue v, String path) throws ApiException {
            return new BalloonUpdate(Fields.of(v, path, "BalloonUpdateConfig", "amount_mib").requiredInt64("amount_mib"));
        }
    }

    /** PATCH /balloon/statistics. */
    record BalloonStatsUpdate(Long statsPollingIntervalS) {
        static BalloonStatsUpdate fromJson(JsonValue v, String path) throws ApiException {
            return new BalloonStatsUpdate(Fields.of(v, path, "BalloonUpdateStatsConfig", "stats_polling_interval_s")
                    .requiredInt64("stats_polling_interval_s"));
        }
    }

    /** GET /balloon/statistics: the four counts always, the guest's statistics where it gave them. */
    record BalloonStats(long targetPages, long actualPages, long targetMib, long actualMib, Long swapIn, Long swapOut,
                        Long majorFaults, Long minorFaults, Long freeMemory, Long totalMemory, Long availableMemory,
                        Long diskCaches, Long hugetlbAllocations, Long hugetlbFailures, Long oomKill, Long allocStall,
                        Long asyncScan, Long directScan, Long asyncReclaim, Long directReclaim) implements JsonWritable {
        @Override
        public JsonValue toJson() {
            return JsonObject.builder().put("target_pages", targetPages).put("actual_pages", actualPages)
                    .put("target_mib", targetMib).put("actual_mib", actualMib)
                    .putPresent("swap_in", swapIn).putPresent("swap_out", swapOut)
                    .putPresent("major_faults", majorFaults).putPresent("minor_faults", minorFaults)
                    .putPresent("free_memory", freeMemory).putPresent("total_memory", totalMemory)
                    .putPresent("available_memory", availableMemory).putPresent("disk_caches", diskCaches)
                    .putPresent("hugetlb_allocations", hugetlbAllocations).putPresent("hugetlb_failures", hugetlbFailures)
                    .putPresent("oom_kill", oomKill).putPresent("alloc_stall", allocStall)
                    .putPresent("async_scan", asyncScan).putPresent("direct_scan", directScan)
                    .putPresent("async_reclaim", asyncReclaim).putPresent("direct_reclaim", directReclaim).build();
        }
    }

    /** PATCH /balloon/hinting/start (the body is optional; Firecracker's StartHintingCmd ignores unknown fields). */
    record BalloonStartCmd(Boolean acknowledgeOnStop) {
        static BalloonStartCmd fromJson(JsonValue v, String path) throws ApiException {
            return new BalloonStartCmd(Fields.lenient(v, path, "StartHintingCmd").bool("acknowledge_on_stop"));
        }
    }

    /** GET /balloon/hinting/status. */
    record BalloonHintingStatus(int hostCmd, Integer guestCmd) implements JsonWritable {
        @Override
        public JsonValue toJson() {
            return JsonObject.builder().put("host_cmd", hostCmd).putPresent("guest_cmd", guestCmd).build();
        }
    }

    /** PUT /hotplug/memory (Firecracker's MemoryHotplugConfig: usize sizes, read wide and checked). */
    record MemoryHotplugConfig(Long totalSizeMib, Long blockSizeMib, Long slotSizeMib) implements JsonWritable {
        static MemoryHotplugConfig fromJson(JsonValue v, String path) throws ApiException {
            Fields f = Fields.of(v, path, "MemoryHotplugConfig", "total_size_mib", "block_size_mib", "slot_size_mib");
            return new MemoryHotplugConfig(f.requiredInt64("total_size_mib"), f.int64("block_size_mib"),
                    f.int64("slot_size_mib"));
        }

        @Override
        public JsonValue toJson() {
            return JsonObject.builder().putPresent("total_size_mib", totalSizeMib)
                    .putPresent("block_size_mib", blockSizeMib).putPresent("slot_size_mib", slotSizeMib).build();
        }
    }

    /** PATCH /hotplug/memory. */
    record MemoryHotplugSizeUpdate(Long requestedSizeMib) {
        static MemoryHotplugSizeUpdate fromJson(JsonValue v, String path) throws ApiException {
            return new MemoryHotplugSizeUpdate(Fields.of(v, path, "MemoryHotplugSizeUpdate", "requested_size_mib")
                    .requiredInt64("requested_size_mib"));
        }
    }

    /** GET /hotplug/memory. */
    record MemoryHotplugStatus(long totalSizeMib, long slotSizeMib, long blockSizeMib, long pluggedSizeMib,
                               long requestedSizeMib) implements JsonWritable {
        @Override
        public JsonValue toJson() {
            return JsonObject.builder().put("total_size_mib", totalSizeMib).put("slot_size_mib", slotSizeMib)
                    .put("block_size_mib", blockSizeMib).put("plugged_size_mib", pluggedSizeMib)
                    .put("requested_size_mib", requestedSizeMib).build();
        }
    }

    /** PUT /serial. */
    record SerialDevice(String serialOutPath, TokenBucket rateLimiter) implements JsonWritable {
        static SerialDevice fromJson(JsonValue v, String path) throws ApiException {
            Fields f = Fields.of(v, path, "SerialConfig", "serial_out_path", "rate_limiter");
            return new SerialDevice(f.string("serial_out_path"), f.object("rate_limiter", TokenBucket::fromJson));
        }

        @Override
        public JsonValue toJson() {
            return JsonObject.builder().putPresent("serial_out_path", serialOutPath)
                    .putPresent("rate_limiter", rateLimiter).build();
        }
    }

    /** A CPUID register modifier: {@code bitmap} is "0b" and 32 of 0, 1 or x (leave the bit). */
    record CpuidRegisterModifier(String register, String bitmap) implements JsonWritable {
        static CpuidRegisterModifier fromJson(JsonValue v, String path) throws ApiException {
            Fields f = Fields.of(v, path, "CpuidRegisterModifier", "register", "bitmap");
            return new CpuidRegisterModifier(f.requiredString("register"), f.requiredString("bitmap"));
        }

        @Override
        public JsonValue toJson() {
            return JsonObject.builder().put("register", register).put("bitmap", bitmap).build();
        }
    }

    record CpuidLeafModifier(String leaf, String subleaf, Integer flags, List<CpuidRegisterModifier> modifiers)
            implements JsonWritable {
        static CpuidLeafModifier fromJson(JsonValue v, String path) throws ApiException {
            Fields f = Fields.of(v, path, "CpuidLeafModifier", "leaf", "subleaf", "flags", "modifiers");
            return new CpuidLeafModifier(f.requiredString("leaf"), f.requiredString("subleaf"),
                    f.requiredInt32("flags"), f.requiredList("modifiers", CpuidRegisterModifier::fromJson));
        }

        @Override
        public JsonValue toJson() {
            return JsonObject.builder().put("leaf", leaf).put("subleaf", subleaf).put("flags", flags)
                    .put("modifiers", modifiers).build();
        }
    }

    /** An MSR modifier: {@code bitmap} is "0b" and 64 of 0, 1 or x. */
    record MsrModifier(String addr, String bitmap) implements JsonWritable {
        static MsrModifier fromJson(JsonValue v, String path) throws ApiException {
            Fields f = Fields.of(v, path, "RegisterModifier", "addr", "bitmap");
            return new MsrModifier(f.requiredString("addr"), f.requiredString("bitmap"));
        }

        @Override
        public JsonValue toJson() {
            return JsonObject.builder().put("addr", addr).put("bitmap", bitmap).build();
        }
    }

    /**
     * PUT /cpu-config on x86-64: Firecracker's custom CPU template there has these three fields (the
     * aarch64 ones, reg_modifiers and vcpu_features, are unknown fields on this architecture).
     */
    record CpuConfig(List<String> kvmCapabilities, List<CpuidLeafModifier> cpuidModifiers,
                     List<MsrModifier> msrModifiers) implements JsonWritable {
        CpuConfig {
            kvmCapabilities = kvmCapabilities == null ? List.of() : kvmCapabilities;
            cpuidModifiers = cpuidModifiers == null ? List.of() : cpuidModifiers;
            msrModifiers = msrModifiers == null ? List.of() : msrModifiers;
        }

        static CpuConfig fromJson(JsonValue v, String path) throws ApiException {
            Fields f = Fields.of(v, path, "CustomCpuTemplate", "kvm_capabilities", "cpuid_modifiers", "msr_modifiers");
            return new CpuConfig(f.strings("kvm_capabilities"), f.list("cpuid_modifiers", CpuidLeafModifier::fromJson),
                    f.list("msr_modifiers", MsrModifier::fromJson));
        }

        @Override
        public JsonValue toJson() {
            return JsonObject.builder().putNonEmpty("kvm_capabilities", kvmCapabilities)
                    .putNonEmpty("cpuid_modifiers", cpuidModifiers).putNonEmpty("msr_modifiers", msrModifiers).build();
        }
    }

    // ---- end of issue 18's block ----

    enum ActionType { FlushMetrics, InstanceStart, SendCtrlAltDel }

    record InstanceActionInfo(ActionType actionType) {
        static InstanceActionInfo fromJson(JsonValue v, String path) throws ApiException {
            return new InstanceActionInfo(Fields.of(v, path, "InstanceActionInfo", "action_type")
                    .requiredEnum("action_type", ActionType.class));
        }
    }

    enum VmState { Paused, Resumed }

    enum SnapshotType { Full, Diff }

    /** PUT /snapshot/create. */
    record SnapshotCreateParams(String memFilePath, String snapshotPath, SnapshotType snapshotType) {
        static SnapshotCreateParams fromJson(JsonValue v, String path) throws ApiException {
            Fields f = Fields.of(v, path, "CreateSnapshotParams", "mem_file_path", "snapshot_path", "snapshot_type");
            return new SnapshotCreateParams(f.requiredString("mem_file_path"), f.requiredString("snapshot_path"),
                    f.enumValue("snapshot_type", SnapshotType.class));
        }
    }

    enum MemoryBackendType { File, Uffd }

    record MemoryBackend(MemoryBackendType backendType, String backendPath) {
        static MemoryBackend fromJson(JsonValue v, String path) throws ApiException {
            Fields f = Fields.of(v, path, "MemBackendConfig", "backend_type", "backend_path");
            return new MemoryBackend(f.requiredEnum("backend_type", MemoryBackendType.class),
                    f.requiredString("backend_path"));
        }
    }

    record NetworkOverride(String ifaceId, String hostDevName) {
        static NetworkOverride fromJson(JsonValue v, String path) throws ApiException {
            Fields f = Fields.of(v, path, "NetworkOverride", "iface_id", "host_dev_name");
            return new NetworkOverride(f.requiredString("iface_id"), f.requiredString("host_dev_name"));
        }
    }

    record VsockOverride(String udsPath) {
        static VsockOverride fromJson(JsonValue v, String path) throws ApiException {
            return new VsockOverride(Fields.of(v, path, "VsockOverride", "uds_path").requiredString("uds_path"));
        }
    }

    /** PUT /snapshot/load; exactly one of mem_file_path (deprecated) and mem_backend. */
    record SnapshotLoadParams(Boolean enableDiffSnapshots, Boolean trackDirtyPages, String memFilePath,
                              MemoryBackend memBackend, String snapshotPath, Boolean resumeVm,
                              List<NetworkOverride> networkOverrides, VsockOverride vsockOverride,
                              Boolean clockRealtime, String hugePages) {
        static SnapshotLoadParams fromJson(JsonValue v, String path) throws ApiException {
            Fields f = Fields.of(v, path, "LoadSnapshotConfig", "enable_diff_snapshots", "track_dirty_pages",
                    "mem_file_path", "mem_backend", "snapshot_path", "resume_vm", "network_overrides",
                    "vsock_override", "clock_realtime", "huge_pages");
            return new SnapshotLoadParams(f.bool("enable_diff_snapshots"), f.bool("track_dirty_pages"),
                    f.string("mem_file_path"), f.object("mem_backend", MemoryBackend::fromJson),
                    f.requiredString("snapshot_path"), f.bool("resume_vm"),
                    f.list("network_overrides", NetworkOverride::fromJson),
                    f.object("vsock_override", VsockOverride::fromJson), f.bool("clock_realtime"),
                    f.string("huge_pages"));
        }
    }

    record Vm(VmState state) {
        static Vm fromJson(JsonValue v, String path) throws ApiException {
            return new Vm(Fields.of(v, path, "Vm", "state").requiredEnum("state", VmState.class));
        }
    }

    record InstanceInfo(String id, String state, String vmmVersion, String appName) implements JsonWritable {
        @Override
        public JsonValue toJson() {
            return JsonObject.builder().put("id", id).put("state", state).put("vmm_version", vmmVersion)
                    .put("app_name", appName).build();
        }
    }

    record Version(String firecrackerVersion) implements JsonWritable {
        @Override
        public JsonValue toJson() {
            return JsonObject.builder().put("firecracker_version", firecrackerVersion).build();
        }
    }

    record Fault(String faultMessage) implements JsonWritable {
        @Override
        public JsonValue toJson() {
            return JsonObject.builder().put("fault_message", faultMessage).build();
        }
    }

    enum MmdsVersion { V1, V2 }

    /** PUT /mmds/config and the config file's "mmds-config". */
    record MmdsConfig(MmdsVersion version, List<String> networkInterfaces, String ipv4Address, Boolean imdsCompat)
            implements JsonWritable {
        static MmdsConfig fromJson(JsonValue v, String path) throws ApiException {
            Fields f = Fields.of(v, path, "MmdsConfig", "version", "network_interfaces", "ipv4_address", "imds_compat");
            return new MmdsConfig(f.enumValue("version", MmdsVersion.class), f.requiredStrings("network_interfaces"),
                    f.string("ipv4_address"), f.bool("imds_compat"));
        }

        @Override
        public JsonValue toJson() {
            return JsonObject.builder().putPresent("version", version)
                    .putPresent("network_interfaces", networkInterfaces).putPresent("ipv4_address", ipv4Address)
                    .putPresent("imds_compat", imdsCompat).build();
        }
    }

    /**
     * Firecracker's config file ({@code --config-file}) and {@code GET /vm/config}. The keys Vessel has no
     * device for are accepted only when null or empty (none is left now), so that
     * Firecracker's own example files load unchanged. Written in Firecracker's order, the optional
     * devices as null when absent; pmem, memory-hotplug and serial only when set.
     */
    record FullVmConfiguration(Balloon balloon, List<Drive> drives, BootSource bootSource, CpuConfig cpuConfig,
                               Logger logger, MachineConfig machineConfig, Metrics metrics, MmdsConfig mmdsConfig,
                               List<NetworkInterface> networkInterfaces, Vsock vsock, Entropy entropy,
                               List<Pmem> pmem, MemoryHotplugConfig memoryHotplug, SerialDevice serial)
            implements JsonWritable {
        FullVmConfiguration {
            drives = drives == null ? List.of() : drives;
            networkInterfaces = networkInterfaces == null ? List.of() : networkInterfaces;
        }

        static FullVmConfiguration fromJson(JsonValue v, String path) throws ApiException {
            Fields f = Fields.of(v, path, "VmConfig", "balloon", "drives", "boot-source", "cpu-config", "logger",
                    "machine-config", "metrics", "mmds-config", "network-interfaces", "vsock", "entropy", "pmem",
                    "memory-hotplug", "serial");
            return new FullVmConfiguration(f.object("balloon", Balloon::fromJson), f.list("drives", Drive::fromJson),
                    f.object("boot-source", BootSource::fromJson), f.object("cpu-config", CpuConfig::fromJson),
                    f.object("logger", Logger::fromJson), f.object("machine-config", MachineConfig::fromJson),
                    f.object("metrics", Metrics::fromJson), f.object("mmds-config", MmdsConfig::fromJson),
                    f.list("network-interfaces", NetworkInterface::fromJson), f.object("vsock", Vsock::fromJson),
                    f.object("entropy", Entropy::fromJson), f.list("pmem", Pmem::fromJson),
                    f.object("memory-hotplug", MemoryHotplugConfig::fromJson), f.object("serial", SerialDevice::fromJson));
        }

        @Override
        public JsonValue toJson() {
            return JsonObject.builder().put("balloon", balloon).put("drives", drives).put("boot-source", bootSource)
                    .put("cpu-config", cpuConfig).put("logger", logger).put("machine-config", machineConfig)
                    .put("metrics", metrics).put("mmds-config", mmdsConfig).put("network-interfaces", networkInterfaces)
                    .put("vsock", vsock).put("entropy", entropy).putNonEmpty("pmem", pmem)
                    .putPresent("memory-hotplug", memoryHotplug).putPresent("serial", serial).build();
        }
    }
}
