/**
 * The VMM's controller: the one place that serializes requests to a microVM and keeps Firecracker's
 * phase rules (what is allowed before boot, what after). Front ends (the HTTP API, an embedder) reach it
 * only through {@link vessel.vmm.control.VmmAction} records and read {@link vessel.vmm.control.VmmData}
 * records back; refusals are {@link vessel.vmm.control.VmmActionException}s. It knows nothing of HTTP or
 * JSON (the MMDS document aside, which is JSON by nature).
 */
package vessel.vmm.control;
