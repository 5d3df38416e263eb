/**
 * Assembles and runs a VM: {@link vessel.vmm.VmConfig} (what to run, as data) becomes a
 * {@link vessel.vmm.VirtualMachine} (KVM VM, guest memory, devices, one platform thread per vCPU).
 * This is the only package that wires KVM to devices.
 */
package vessel.vmm;
