/**
 * Firecracker's REST API on a Unix domain socket: HTTP/1.1 (ApiServer, its own) with Firecracker's JSON bodies
 * (vessel.json, bound by hand in Model), status codes and {@code fault_message} errors, and its config file format. A thin translation:
 * requests become a {@link vessel.vmm.VmConfig} and {@link vessel.vmm.control.VmmAction}s for the VMM's
 * {@link vessel.vmm.control.VmmController}, which keeps the rules for what may change before and after boot;
 * nothing here touches devices.
 */
package vessel.api;
