/**
 * KVM through FFM: one {@code AutoCloseable} class per file descriptor ({@link vessel.kvm.Kvm},
 * {@link vessel.kvm.VmFd}, {@link vessel.kvm.VcpuFd}), the ioctl numbers in {@link vessel.kvm.KvmIoctl},
 * and each kernel struct's layout in the class that carries its values, pinned by a test against
 * {@code linux/kvm.h}.
 */
package vessel.kvm;
