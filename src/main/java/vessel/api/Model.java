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

    @JsonInclude(JsonInclude.Include.NON_NULL)
    record Metrics(
            @JsonProperty(value = "metrics_path", required = true) @JsonSetter(nulls = Nulls.FAIL) String metricsPath,
            @JsonProperty("emit_id") Boolean emitId,
            @JsonProperty("properties") Map<String, String> properties) { }

    enum ActionType { FlushMetrics, InstanceStart, SendCtrlAltDel }

    record InstanceActionInfo(
            @JsonProperty(value = "action_type", required = true) @JsonSetter(nulls = Nulls.FAIL) ActionType actionType) { }

    enum VmState { Paused, Resumed }

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
     * device for (balloon, cpu-config, pmem, memory-hotplug, serial) are accepted only when
     * null or empty, so that Firecracker's own example files load unchanged.
     */
    @JsonPropertyOrder({"balloon", "drives", "boot-source", "cpu-config", "logger", "machine-config", "metrics",
            "mmds-config", "network-interfaces", "vsock", "entropy"})
    record FullVmConfiguration(
            @JsonProperty("balloon") @JsonInclude(JsonInclude.Include.ALWAYS) Object balloon,
            @JsonProperty("drives") List<Drive> drives,
            @JsonProperty("boot-source") BootSource bootSource,
            @JsonProperty("cpu-config") @JsonInclude(JsonInclude.Include.ALWAYS) Object cpuConfig,
            @JsonProperty("logger") @JsonInclude(JsonInclude.Include.ALWAYS) Logger logger,
            @JsonProperty("machine-config") MachineConfig machineConfig,
            @JsonProperty("metrics") @JsonInclude(JsonInclude.Include.ALWAYS) Metrics metrics,
            @JsonProperty("mmds-config") @JsonInclude(JsonInclude.Include.ALWAYS) MmdsConfig mmdsConfig,
            @JsonProperty("network-interfaces") List<NetworkInterface> networkInterfaces,
            @JsonProperty("vsock") @JsonInclude(JsonInclude.Include.ALWAYS) Vsock vsock,
            @JsonProperty("entropy") @JsonInclude(JsonInclude.Include.ALWAYS) Entropy entropy,
            @JsonProperty("pmem") @JsonInclude(JsonInclude.Include.NON_EMPTY) List<Object> pmem,
            @JsonProperty("memory-hotplug") @JsonInclude(JsonInclude.Include.NON_NULL) Object memoryHotplug,
            @JsonProperty("serial") @JsonInclude(JsonInclude.Include.NON_NULL) Object serial) {
        FullVmConfiguration {
            drives = drives == null ? List.of() : drives;
            networkInterfaces = networkInterfaces == null ? List.of() : networkInterfaces;
        }
    }
}
