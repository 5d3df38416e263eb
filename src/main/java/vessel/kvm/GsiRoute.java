package vessel.kvm;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * One {@code struct kvm_irq_routing_entry}: where an interrupt raised on {@code gsi} (by an irqfd or
 * KVM_IRQ_LINE) goes. KVM_SET_GSI_ROUTING replaces the whole table, so a VMM that adds MSI routes must
 * also list the irqchip pins ({@link #pcIrqchipRoutes()}).
 */
public sealed interface GsiRoute {
    StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("gsi"), JAVA_INT.withName("type"), JAVA_INT.withName("flags"),
            JAVA_INT.withName("pad"), MemoryLayout.sequenceLayout(8, JAVA_INT).withName("u"))
            .withName("kvm_irq_routing_entry");
    /** {@code struct kvm_irq_routing}'s header: nr, flags. */
    long HEADER_BYTES = 8;

    int TYPE_IRQCHIP = 1;
    int TYPE_MSI = 2;
    int IRQCHIP_PIC_MASTER = 0;
    int IRQCHIP_PIC_SLAVE = 1;
    int IRQCHIP_IOAPIC = 2;
    /** Pins of KVM's in-kernel I/O APIC. */
    int IOAPIC_PINS = 24;

    int gsi();

    /** GSI {@code gsi} drives pin {@code pin} of in-kernel interrupt controller {@code irqchip}. */
    record Irqchip(int gsi, int irqchip, int pin) implements GsiRoute {
    }

    /** GSI {@code gsi} sends the MSI message ({@code address}, {@code data}) to the local APICs. */
    record Msi(int gsi, long address, int data) implements GsiRoute {
    }

    /** The I/O APIC pin the PIT's IRQ 0 drives, as the MADT's interrupt source override says. */
    int PIT_IOAPIC_PIN = 2;

    /**
     * A PC's interrupt wiring, as QEMU routes it: GSIs 0-15 on the two 8259s and the I/O APIC, 16-23 on
     * the I/O APIC alone, except that GSI 0 (the PIT, which KVM's in-kernel PIT raises) reaches I/O APIC
     * pin 2 and GSI 2 goes nowhere (8259 input 2 is the cascade). KVM's own default routes GSI 0 to pin
     * 0, where a guest that follows the MADT never looks: its timer interrupts would be lost.
     */
    static java.util.List<GsiRoute> pcIrqchipRoutes() {
        java.util.List<GsiRoute> routes = new java.util.ArrayList<>();
        for (int gsi = 0; gsi < IOAPIC_PINS; gsi++) {
            if (gsi == PIT_IOAPIC_PIN) {
                continue;
            }
            if (gsi < 16) {
                routes.add(new Irqchip(gsi, gsi < 8 ? IRQCHIP_PIC_MASTER : IRQCHIP_PIC_SLAVE, gsi % 8));
            }
            routes.add(new Irqchip(gsi, IRQCHIP_IOAPIC, gsi == 0 ? PIT_IOAPIC_PIN : gsi));
        }
        return routes;
    }

    default void write(MemorySegment m) {
        m.fill((byte) 0);
        m.set(JAVA_INT, 0, gsi());
        switch (this) {
            case Irqchip r -> {
                m.set(JAVA_INT, 4, TYPE_IRQCHIP);
                m.set(JAVA_INT, 16, r.irqchip());
                m.set(JAVA_INT, 20, r.pin());
            }
            case Msi r -> {
                m.set(JAVA_INT, 4, TYPE_MSI);
                m.set(JAVA_INT, 16, (int) r.address());
                m.set(JAVA_INT, 20, (int) (r.address() >>> 32));
                m.set(JAVA_INT, 24, r.data());
            }
        }
    }
}
