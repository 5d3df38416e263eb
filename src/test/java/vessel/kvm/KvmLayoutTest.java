package vessel.kvm;

import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import vessel.sys.Libc;
import vessel.testkit.NativeTools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/**
 * Pins every hand-written struct layout, kvm_run offset and ioctl number against the C headers: a C
 * program compiled here prints sizeof/offsetof/request values for the same names, and each must match.
 */
class KvmLayoutTest {
    private static final Map<String, StructLayout> STRUCTS = new LinkedHashMap<>();
    private static final Map<String, Long> KVM_RUN = new LinkedHashMap<>();
    private static final Map<String, Long> C = new HashMap<>();

    static {
        for (StructLayout l : new StructLayout[] {Regs.LAYOUT, Sregs.LAYOUT, Segment.LAYOUT, DescriptorTable.LAYOUT,
                Fpu.LAYOUT, MsrEntry.LAYOUT, CpuidEntry.LAYOUT, VcpuEvents.LAYOUT, UserMemoryRegion.LAYOUT,
                IrqFd.LAYOUT, IoEventFd.LAYOUT, Translation.LAYOUT, GsiRoute.LAYOUT, DebugRegs.LAYOUT, GuestDebug.LAYOUT,
                StateStructs.XCRS, StateStructs.IRQCHIP, StateStructs.PIT_STATE2, StateStructs.CLOCK_DATA,
                StateStructs.DIRTY_LOG}) {
            STRUCTS.put(l.name().orElseThrow(), l);
        }
        KVM_RUN.put("request_interrupt_window", KvmRun.REQUEST_INTERRUPT_WINDOW);
        KVM_RUN.put("immediate_exit", KvmRun.IMMEDIATE_EXIT);
        KVM_RUN.put("exit_reason", KvmRun.EXIT_REASON);
        KVM_RUN.put("ready_for_interrupt_injection", KvmRun.READY_FOR_INTERRUPT_INJECTION);
        KVM_RUN.put("if_flag", KvmRun.IF_FLAG);
        KVM_RUN.put("cr8", KvmRun.CR8);
        KVM_RUN.put("apic_base", KvmRun.APIC_BASE);
        KVM_RUN.put("io.direction", KvmRun.IO_DIRECTION);
        KVM_RUN.put("io.size", KvmRun.IO_SIZE);
        KVM_RUN.put("io.port", KvmRun.IO_PORT);
        KVM_RUN.put("io.count", KvmRun.IO_COUNT);
        KVM_RUN.put("io.data_offset", KvmRun.IO_DATA_OFFSET);
        KVM_RUN.put("mmio.phys_addr", KvmRun.MMIO_PHYS_ADDR);
        KVM_RUN.put("mmio.data", KvmRun.MMIO_DATA);
        KVM_RUN.put("mmio.len", KvmRun.MMIO_LEN);
        KVM_RUN.put("mmio.is_write", KvmRun.MMIO_IS_WRITE);
        KVM_RUN.put("fail_entry.hardware_entry_failure_reason", KvmRun.FAIL_ENTRY_REASON);
        KVM_RUN.put("fail_entry.cpu", KvmRun.FAIL_ENTRY_CPU);
        KVM_RUN.put("internal.suberror", KvmRun.INTERNAL_SUBERROR);
        KVM_RUN.put("internal.ndata", KvmRun.INTERNAL_NDATA);
        KVM_RUN.put("internal.data", KvmRun.INTERNAL_DATA);
        KVM_RUN.put("emulation_failure.flags", KvmRun.EMULATION_FLAGS);
        KVM_RUN.put("emulation_failure.insn_size", KvmRun.EMULATION_INSN_SIZE);
        KVM_RUN.put("emulation_failure.insn_bytes", KvmRun.EMULATION_INSN_BYTES);
        KVM_RUN.put("debug.arch.exception", KvmRun.DEBUG_EXCEPTION);
        KVM_RUN.put("debug.arch.pc", KvmRun.DEBUG_PC);
        KVM_RUN.put("debug.arch.dr6", KvmRun.DEBUG_DR6);
        KVM_RUN.put("debug.arch.dr7", KvmRun.DEBUG_DR7);
        KVM_RUN.put("system_event.type", KvmRun.SYSTEM_EVENT_TYPE);
        KVM_RUN.put("system_event.ndata", KvmRun.SYSTEM_EVENT_NDATA);
        KVM_RUN.put("system_event.data", KvmRun.SYSTEM_EVENT_DATA);
    }

    @BeforeAll
    static void compileProbe(@TempDir Path dir) throws Exception {
        StringBuilder c = new StringBuilder("""
                #include <stddef.h>
                #include <stdio.h>
                #include <signal.h>
                #include <termios.h>
                #include <linux/kvm.h>
                #define P(name, value) printf("%s %llu\\n", name, (unsigned long long)(value))
                int main(void) {
                """);
        for (var e : STRUCTS.entrySet()) {
            String s = e.getKey();
            c.append("P(\"").append(s).append("\", sizeof(struct ").append(s).append("));\n");
            for (MemoryLayout m : e.getValue().memberLayouts()) {
                String f = m.name().orElseThrow();
                c.append("P(\"").append(s).append('.').append(f).append("\", offsetof(struct ").append(s)
                        .append(", ").append(f).append("));\n");
                if (m instanceof GroupLayout g) {
                    for (MemoryLayout inner : g.memberLayouts()) {
                        String n = f + "." + inner.name().orElseThrow();
                        c.append("P(\"").append(s).append('.').append(n).append("\", offsetof(struct ").append(s)
                                .append(", ").append(n).append("));\n");
                    }
                }
            }
        }
        for (String f : KVM_RUN.keySet()) {
            c.append("P(\"kvm_run.").append(f).append("\", offsetof(struct kvm_run, ").append(f).append("));\n");
        }
        for (KvmIoctl i : KvmIoctl.values()) {
            c.append("P(\"").append(i.displayName()).append("\", ").append(i.displayName()).append(");\n");
        }
        c.append("""
                P("kvm_lapic_state", sizeof(struct kvm_lapic_state));
                P("kvm_msrs", sizeof(struct kvm_msrs));
                P("kvm_cpuid2", sizeof(struct kvm_cpuid2));
                P("kvm_irq_routing", sizeof(struct kvm_irq_routing));
                P("kvm_irq_routing_entry.u.msi.data", offsetof(struct kvm_irq_routing_entry, u.msi.data));
                P("kvm_irq_routing_entry.u.irqchip.pin", offsetof(struct kvm_irq_routing_entry, u.irqchip.pin));
                P("KVM_GUESTDBG_ENABLE", KVM_GUESTDBG_ENABLE);
                P("KVM_GUESTDBG_SINGLESTEP", KVM_GUESTDBG_SINGLESTEP);
                P("KVM_GUESTDBG_USE_SW_BP", KVM_GUESTDBG_USE_SW_BP);
                P("KVM_GUESTDBG_USE_HW_BP", KVM_GUESTDBG_USE_HW_BP);
                P("KVM_GUESTDBG_BLOCKIRQ", KVM_GUESTDBG_BLOCKIRQ);
                P("KVM_IRQCHIP_PIC_MASTER", KVM_IRQCHIP_PIC_MASTER);
                P("KVM_IRQCHIP_PIC_SLAVE", KVM_IRQCHIP_PIC_SLAVE);
                P("KVM_IRQCHIP_IOAPIC", KVM_IRQCHIP_IOAPIC);
                P("KVM_VCPUEVENT_VALID_NMI_PENDING", KVM_VCPUEVENT_VALID_NMI_PENDING);
                P("KVM_VCPUEVENT_VALID_SIPI_VECTOR", KVM_VCPUEVENT_VALID_SIPI_VECTOR);
                P("KVM_MEM_LOG_DIRTY_PAGES", KVM_MEM_LOG_DIRTY_PAGES);
                P("sigset_t", sizeof(sigset_t));
                P("termios", sizeof(struct termios));
                P("termios.c_oflag", offsetof(struct termios, c_oflag));
                return 0;
                }
                """);
        for (String line : NativeTools.compileAndRun(c.toString(), dir).split("\n")) {
            String[] kv = line.trim().split(" ");
            C.put(kv[0], Long.parseUnsignedLong(kv[1]));
        }
    }

    private static long c(String name) {
        Long v = C.get(name);
        assertNotNull(v, "the C probe printed nothing for " + name);
        return v;
    }

    @Test
    void structSizesAndOffsetsMatchTheKernelHeaders() {
        for (var e : STRUCTS.entrySet()) {
            String s = e.getKey();
            StructLayout layout = e.getValue();
            assertEquals(c(s), layout.byteSize(), "sizeof(struct " + s + ")");
            for (MemoryLayout m : layout.memberLayouts()) {
                String f = m.name().orElseThrow();
                assertEquals(c(s + "." + f), layout.byteOffset(MemoryLayout.PathElement.groupElement(f)),
                        "offsetof(struct " + s + ", " + f + ")");
                if (m instanceof GroupLayout g) {
                    for (MemoryLayout inner : g.memberLayouts()) {
                        String n = inner.name().orElseThrow();
                        assertEquals(c(s + "." + f + "." + n), layout.byteOffset(
                                MemoryLayout.PathElement.groupElement(f), MemoryLayout.PathElement.groupElement(n)),
                                "offsetof(struct " + s + ", " + f + "." + n + ")");
                    }
                }
            }
        }
    }

    @Test
    void kvmRunOffsetsMatch() {
        KVM_RUN.forEach((f, javaOffset) -> assertEquals(c("kvm_run." + f), javaOffset, "offsetof(struct kvm_run, " + f + ")"));
    }

    @Test
    void ioctlNumbersMatch() {
        for (KvmIoctl i : KvmIoctl.values()) {
            assertEquals(c(i.displayName()), i.request(), i.displayName());
        }
    }

    @Test
    void headerAndLibcSizesMatch() {
        assertEquals(c("kvm_lapic_state"), LapicState.BYTES);
        assertEquals(c("kvm_msrs"), MsrEntry.HEADER_BYTES);
        assertEquals(c("kvm_cpuid2"), CpuidEntry.HEADER_BYTES);
        assertEquals(c("kvm_irq_routing"), GsiRoute.HEADER_BYTES);
        // GsiRoute.write puts the MSI data and the irqchip pin at these offsets.
        assertEquals(c("kvm_irq_routing_entry.u.msi.data"), 24);
        assertEquals(c("kvm_irq_routing_entry.u.irqchip.pin"), 20);
        assertEquals(c("KVM_GUESTDBG_ENABLE"), GuestDebug.ENABLE);
        assertEquals(c("KVM_GUESTDBG_SINGLESTEP"), GuestDebug.SINGLESTEP);
        assertEquals(c("KVM_GUESTDBG_USE_SW_BP"), GuestDebug.USE_SW_BP);
        assertEquals(c("KVM_GUESTDBG_USE_HW_BP"), GuestDebug.USE_HW_BP);
        assertEquals(c("KVM_GUESTDBG_BLOCKIRQ"), GuestDebug.BLOCKIRQ);
        assertEquals(c("KVM_IRQCHIP_PIC_MASTER"), StateStructs.IRQCHIP_PIC_MASTER);
        assertEquals(c("KVM_IRQCHIP_PIC_SLAVE"), StateStructs.IRQCHIP_PIC_SLAVE);
        assertEquals(c("KVM_IRQCHIP_IOAPIC"), StateStructs.IRQCHIP_IOAPIC);
        assertEquals(c("KVM_VCPUEVENT_VALID_NMI_PENDING"), StateStructs.VCPUEVENT_VALID_NMI_PENDING);
        assertEquals(c("KVM_VCPUEVENT_VALID_SIPI_VECTOR"), StateStructs.VCPUEVENT_VALID_SIPI_VECTOR);
        assertEquals(c("KVM_MEM_LOG_DIRTY_PAGES"), UserMemoryRegion.LOG_DIRTY_PAGES);
        for (VcpuStateBlob b : VcpuStateBlob.values()) {
            assertEquals(b.get.request() >>> 16 & 0x3fff, b.bytes(), b + ": the blob's size is the one its ioctl encodes");
        }
        assertEquals(c("sigset_t"), Libc.SIGSET_BYTES);
        assertEquals(c("termios"), Libc.TERMIOS_BYTES);
        assertEquals(c("termios.c_oflag"), 4);
    }

    @Test
    void fpuXmmAccessorsAddressSixteenBytesPerRegisterOfKvmFpuXmm() {
        Fpu fpu = new Fpu();
        byte[] value = java.util.HexFormat.of().parseHex("0102030405060708090a0b0c0d0e0f10");
        fpu.setXmm(15, value);
        org.junit.jupiter.api.Assertions.assertArrayEquals(value, java.util.Arrays.copyOfRange(fpu.xmm, 240, 256));
        org.junit.jupiter.api.Assertions.assertArrayEquals(value, fpu.xmm(15));
        org.junit.jupiter.api.Assertions.assertArrayEquals(new byte[16], fpu.xmm(14));
        org.junit.jupiter.api.Assertions.assertThrows(IndexOutOfBoundsException.class, () -> fpu.xmm(16));
        assertEquals(256, Fpu.LAYOUT.select(MemoryLayout.PathElement.groupElement("xmm")).byteSize(), "kvm_fpu.xmm[16][16]");
    }
}
