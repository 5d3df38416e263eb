package vessel.api;

import java.util.Arrays;
import java.util.List;

import vessel.api.Model.ActionType;
import vessel.api.Model.BootSource;
import vessel.api.Model.Drive;
import vessel.api.Model.Entropy;
import vessel.api.Model.Fault;
import vessel.api.Model.InstanceActionInfo;
import vessel.api.Model.Logger;
import vessel.api.Model.MachineConfig;
import vessel.api.Model.MachineConfigUpdate;
import vessel.api.Model.MmdsConfig;
import vessel.api.Model.Metrics;
import vessel.api.Model.NetworkInterface;
import vessel.api.Model.PartialDrive;
import vessel.api.Model.PartialNetworkInterface;
import vessel.api.Model.SnapshotCreateParams;
import vessel.api.Model.SnapshotLoadParams;
import vessel.api.Model.Version;
import vessel.api.Model.Vm;
import vessel.api.Model.Vsock;

/**
 * Firecracker's request table: method and path to a {@link Vmm} call, bodies read with {@link Json},
 * results as 204, 200 with JSON, or 400 with {@code fault_message}. Knows nothing of HTTP framing, so it
 * is tested without a socket; {@link ApiServer} feeds it.
 */
final class Router {
    private static final System.Logger LOG = System.getLogger("vessel.api");

    /** An answer: status and body (null for none) of a media type, JSON but for screenshots. */
    record Reply(int status, byte[] body, String contentType) {
        Reply(int status, byte[] body) {
            this(status, body, "application/json");
        }

        static Reply noContent() {
            return new Reply(204, null);
        }

        static Reply ok(vessel.json.JsonWritable value) {
            return new Reply(200, Json.write(value));
        }

        static Reply fault(int status, String message) {
            return new Reply(status, Json.write(new Fault(message)));
        }
    }

    private final Vmm vmm;

    Router(Vmm vmm) {
        this.vmm = vmm;
    }

    /** {@code body} is null when the request had none (Firecracker treats an empty body as none). */
    Reply handle(String method, String path, byte[] body) {
        if (body != null && body.length == 0) {
            body = null;
        }
        List<String> parts = Arrays.stream(path.replaceFirst("^/+", "").split("/", -1)).toList();
        // "drives/" names the same resource as "drives", as Firecracker's split_terminator has it.
        if (parts.size() > 1 && parts.getLast().isEmpty()) {
            parts = parts.subList(0, parts.size() - 1);
        }
        String resource = parts.getFirst();
        String group = switch (method) {
            case "GET" -> "get_api_requests";
            case "PUT" -> "put_api_requests";
            case "PATCH" -> "patch_api_requests";
            default -> null;
        };
        String metric = metricName(resource, parts);
        if (group != null && metric != null) {
            vmm.metrics().increment(group, metric + "_count");
        }
        try {
            Reply reply = route(method, path, parts, body);
            LOG.log(System.Logger.Level.DEBUG, () -> method + " " + path + ": " + reply.status());
            return reply;
        } catch (ApiException e) {
            if (group != null && metric != null && !group.startsWith("get")) {
                vmm.metrics().increment(group, metric + "_fails");
            }
            vmm.metrics().increment("api_server", "sync_response_fails");
            LOG.log(System.Logger.Level.DEBUG, () -> method + " " + path + ": " + e.status() + " " + e.getMessage());
            return Reply.fault(e.status(), e.getMessage());
        } catch (RuntimeException e) {
            vmm.metrics().increment("api_server", "sync_response_fails");
            LOG.log(System.Logger.Level.WARNING, method + " " + path + " failed", e);
            return Reply.fault(500, "Internal VMM error: " + e);
        }
    }

    private Reply route(String method, String path, List<String> parts, byte[] body) throws ApiException {
        Reply balloonOrCpu = routeBalloonSerialCpu(method, parts, body);
        if (balloonOrCpu != null) {
            return balloonOrCpu;
        }
        String resource = parts.getFirst();
        int depth = parts.size();
        switch (method) {
            case "GET" -> {
                if (body != null) {
                    throw new ApiException("GET request cannot have a body.");
                }
                if (depth == 1) {
                    switch (resource) {
                        case "" -> {
                            return Reply.ok(vmm.instanceInfo());
                        }
                        case "machine-config" -> {
                            return Reply.ok(vmm.machineConfig());
                        }
                        case "version" -> {
                            return Reply.ok(new Version(Vmm.version()));
                        }
                        case "screenshot" -> {
                            return new Reply(200, vmm.screenshot(), "image/png");
                        }
                        case "mmds" -> {
                            return new Reply(200, vmm.getMmds());
                        }
                        default -> { }
                    }
                } else if (depth == 2 && resource.equals("vm") && parts.get(1).equals("config")) {
                    return Reply.ok(vmm.vmConfig());
                }
            }
            case "PUT" -> {
                if (body == null) {
                    throw new ApiException("Empty PUT request.");
                }
                if (depth == 1) {
                    switch (resource) {
                        case "actions" -> {
                            return action(Json.read(body, InstanceActionInfo::fromJson).actionType());
                        }
                        case "boot-source" -> {
                            vmm.putBootSource(Json.read(body, BootSource::fromJson));
                            return Reply.noContent();
                        }
                        case "machine-config" -> {
                            vmm.putMachineConfig(Json.read(body, MachineConfig::fromJson));
                            return Reply.noContent();
                        }
                        case "vsock" -> {
                            vmm.putVsock(Json.read(body, Vsock::fromJson));
                            return Reply.noContent();
                        }
                        case "entropy" -> {
                            vmm.putEntropy(Json.read(body, Entropy::fromJson));
                            return Reply.noContent();
                        }
                        case "logger" -> {
                            vmm.putLogger(Json.read(body, Logger::fromJson));
                            return Reply.noContent();
                        }
                        case "metrics" -> {
                            vmm.putMetrics(Json.read(body, Metrics::fromJson));
                            return Reply.noContent();
                        }
                        case "mmds" -> {
                            vmm.putMmds(Json.readTree(body));
                            return Reply.noContent();
                        }
                        case "drives", "network-interfaces", "pmem" -> throw new ApiException("The ID cannot be empty.");
                        default -> { }
                    }
                } else if (depth == 2 && resource.equals("snapshot") && parts.get(1).equals("create")) {
                    vmm.createSnapshot(Json.read(body, SnapshotCreateParams::fromJson));
                    return Reply.noContent();
                } else if (depth == 2 && resource.equals("snapshot") && parts.get(1).equals("load")) {
                    vmm.loadSnapshot(Json.read(body, SnapshotLoadParams::fromJson));
                    return Reply.noContent();
                } else if (depth == 2 && resource.equals("mmds")) {
                    if (!parts.get(1).equals("config")) {
                        throw new ApiException("Unrecognized PUT request path `" + printable(parts.get(1)) + "`.");
                    }
                    vmm.putMmdsConfig(Json.read(body, MmdsConfig::fromJson));
                    return Reply.noContent();
                } else if (depth == 2 && resource.equals("drives")) {
                    String id = checkedId(parts.get(1));
                    Drive d = Json.read(body, Drive::fromJson);
                    sameId(id, d.driveId());
                    vmm.putDrive(d);
                    return Reply.noContent();
                } else if (depth == 2 && resource.equals("pmem")) {
                    String id = checkedId(parts.get(1));
                    Model.Pmem p = Json.read(body, Model.Pmem::fromJson);
                    sameId(id, p.id());
                    vmm.putPmem(p);
                    return Reply.noContent();
                } else if (depth == 2 && resource.equals("network-interfaces")) {
                    String id = checkedId(parts.get(1));
                    NetworkInterface n = Json.read(body, NetworkInterface::fromJson);
                    sameId(id, n.ifaceId());
                    vmm.putNetworkInterface(n);
                    return Reply.noContent();
                }
            }
            case "PATCH" -> {
                if (body == null) {
                    throw new ApiException("Empty PATCH request.");
                }
                if (depth == 1) {
                    switch (resource) {
                        case "machine-config" -> {
                            MachineConfigUpdate u = Json.read(body, MachineConfigUpdate::fromJson);
                            if (u.isEmpty()) {
                                throw new ApiException("Empty PATCH request.");
                            }
                            vmm.patchMachineConfig(u);
                            return Reply.noContent();
                        }
                        case "mmds" -> {
                            vmm.patchMmds(Json.readTree(body));
                            return Reply.noContent();
                        }
                        case "vm" -> {
                            switch (Json.read(body, Vm::fromJson).state()) {
                                case Paused -> vmm.pause();
                                case Resumed -> vmm.resume();
                            }
                            return Reply.noContent();
                        }
                        case "drives", "network-interfaces", "pmem" -> throw new ApiException("The ID cannot be empty.");
                        default -> { }
                    }
                } else if (depth == 2 && resource.equals("drives")) {
                    String id = checkedId(parts.get(1));
                    PartialDrive d = Json.read(body, PartialDrive::fromJson);
                    sameId(id, d.driveId());
                    vmm.patchDrive(d);
                    return Reply.noContent();
                } else if (depth == 2 && resource.equals("pmem")) {
                    String id = checkedId(parts.get(1));
                    Model.PartialPmem p = Json.read(body, Model.PartialPmem::fromJson);
                    sameId(id, p.id());
                    vmm.patchPmem(p);
                    return Reply.noContent();
                } else if (depth == 2 && resource.equals("network-interfaces")) {
                    String id = checkedId(parts.get(1));
                    PartialNetworkInterface n = Json.read(body, PartialNetworkInterface::fromJson);
                    sameId(id, n.ifaceId());
                    vmm.patchNetworkInterface(n);
                    return Reply.noContent();
                }
            }
            default -> { }
        }
        throw new ApiException("Invalid request method and/or path: " + printable(method) + " " + printable(path) + ".");
    }

    // ---- balloon, serial and CPU configuration (issue 18) ----

    /**
     * /balloon (and its statistics and hinting), /serial and /cpu-config; null for any other path. The
     * hinting commands take an optional body (start) or none (stop), as Firecracker's.
     */
    private Reply routeBalloonSerialCpu(String method, List<String> parts, byte[] body) throws ApiException {
        String path = String.join("/", parts);
        switch (method + " " + path) {
            case "PUT balloon" -> {
                vmm.putBalloon(Json.read(requireBody(body, method), Model.Balloon::fromJson));
                return Reply.noContent();
            }
            case "GET balloon" -> {
                noBody(body);
                return Reply.ok(vmm.balloon());
            }
            case "PATCH balloon" -> {
                vmm.patchBalloon(Json.read(requireBody(body, method), Model.BalloonUpdate::fromJson));
                return Reply.noContent();
            }
            case "GET balloon/statistics" -> {
                noBody(body);
                return Reply.ok(vmm.balloonStats());
            }
            case "PATCH balloon/statistics" -> {
                vmm.patchBalloonStats(Json.read(requireBody(body, method), Model.BalloonStatsUpdate::fromJson));
                return Reply.noContent();
            }
            case "PATCH balloon/hinting/start" -> {
                vmm.startBalloonHinting(body == null ? null : Json.read(body, Model.BalloonStartCmd::fromJson));
                return Reply.noContent();
            }
            case "GET balloon/hinting/status" -> {
                noBody(body);
                return Reply.ok(vmm.balloonHintingStatus());
            }
            case "PATCH balloon/hinting/stop" -> {
                vmm.stopBalloonHinting();
                return Reply.noContent();
            }
            case "PUT hotplug/memory" -> {
                vmm.putMemoryHotplug(Json.read(requireBody(body, method), Model.MemoryHotplugConfig::fromJson));
                return Reply.noContent();
            }
            case "PATCH hotplug/memory" -> {
                vmm.patchMemoryHotplug(Json.read(requireBody(body, method), Model.MemoryHotplugSizeUpdate::fromJson));
                return Reply.noContent();
            }
            case "GET hotplug/memory" -> {
                noBody(body);
                return Reply.ok(vmm.memoryHotplug());
            }
            case "PUT serial" -> {
                vmm.putSerial(Json.read(requireBody(body, method), Model.SerialDevice::fromJson));
                return Reply.noContent();
            }
            case "PUT cpu-config" -> {
                vmm.putCpuConfig(Json.read(requireBody(body, method), Model.CpuConfig::fromJson));
                return Reply.noContent();
            }
            default -> {
                return null;
            }
        }
    }

    private static byte[] requireBody(byte[] body, String method) throws ApiException {
        if (body == null) {
            throw new ApiException(method.equals("PUT") ? "Empty PUT request." : "Empty PATCH request.");
        }
        return body;
    }

    private static void noBody(byte[] body) throws ApiException {
        if (body != null) {
            throw new ApiException("GET request cannot have a body.");
        }
    }

    // ---- end of issue 18's block ----

    private Reply action(ActionType type) throws ApiException {
        switch (type) {
            case InstanceStart -> vmm.start();
            case SendCtrlAltDel -> vmm.sendCtrlAltDel();
            case FlushMetrics -> vmm.flushMetrics();
        }
        return Reply.noContent();
    }

    /** Firecracker's rule for ids in a path: not empty, letters, digits and '_' only. */
    static String checkedId(String id) throws ApiException {
        if (id.isEmpty()) {
            throw new ApiException("The ID cannot be empty.");
        }
        if (!id.chars().allMatch(c -> c == '_' || Character.isLetterOrDigit(c))) {
            throw new ApiException("API Resource IDs can only contain alphanumeric characters and underscores.");
        }
        return id;
    }

    private static void sameId(String fromPath, String fromBody) throws ApiException {
        if (!fromPath.equals(fromBody)) {
            throw new ApiException("The id from the path does not match the id from the body!");
        }
    }

    /** Firecracker's metric name for a resource, or null for paths it does not count. */
    private static String metricName(String resource, List<String> parts) {
        return switch (resource) {
            case "" -> "instance_info";
            case "machine-config" -> "machine_cfg";
            case "boot-source" -> "boot_source";
            case "drives" -> "drive";
            case "network-interfaces" -> "network";
            case "version" -> "vmm_version";
            case "vm" -> parts.size() > 1 ? "vm_config" : "vm";
            case "actions", "logger", "metrics", "vsock", "entropy", "mmds" -> resource;
            default -> null;
        };
    }

    /** {@code s} with control characters shown as \\uXXXX, so an echoed request stays one line. */
    static String printable(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c == 0x7f) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }
}
