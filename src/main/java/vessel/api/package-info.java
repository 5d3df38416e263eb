/**
 * Firecracker's REST API on a Unix domain socket: HTTP/1.1 (ApiServer, its own) with Firecracker's JSON bodies
 * (Jackson), status codes and {@code fault_message} errors, its config file format, and its rules for what
 * may change before and after boot ({@link vessel.api.Lifecycle}). A thin translation: requests become a
 * {@link vessel.vmm.VmConfig} and calls on {@link vessel.vmm.VirtualMachine}; nothing here touches devices.
 */
package vessel.api;
