/**
 * Firecracker's microVM metadata service (MMDS): {@link vessel.devices.mmds.MmdsStore}, the JSON document the
 * API fills and the guest reads, with its V2 session tokens; {@link vessel.devices.mmds.MmdsHttp}, the guest's
 * HTTP/1.1 requests and the answers; {@link vessel.devices.mmds.MmdsStack}, the minimal ARP, IPv4 and TCP that
 * answers frames to the MMDS address inside the VMM (as Firecracker's "dumbo" stack); and
 * {@link vessel.devices.mmds.MmdsNetBackend}, which puts that stack in front of a virtio-net interface's TAP.
 * Every field of every guest frame and request is checked against its bounds; the guest can fill no memory
 * beyond a fixed amount per interface.
 */
package vessel.devices.mmds;
