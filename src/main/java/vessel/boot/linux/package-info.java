/**
 * Linux bzImage handling on the host. A bzImage carries the real kernel (an x86-64 ELF vmlinux)
 * compressed behind its real-mode setup code; Vessel finds that payload through the setup header and
 * decompresses it here, because running the kernel's own decompressor in the guest costs minutes of
 * emulated instructions on hosts without hardware-assisted KVM.
 */
package vessel.boot.linux;
