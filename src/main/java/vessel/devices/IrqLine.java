package vessel.devices;

/** An interrupt a device can raise: an irqfd, a KVM_IRQ_LINE pulse, or a recorder in tests. */
@FunctionalInterface
public interface IrqLine {
    void trigger();

    IrqLine NONE = () -> { };
}
