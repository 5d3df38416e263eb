package vessel.gdb;

import vessel.kvm.Regs;
import vessel.kvm.Sregs;
import vessel.vmm.GuestDebugger;
import vessel.vmm.VmExit;

/** {@link DebugTarget} over a VM: registers and memory are those of the vCPU that stopped last. */
final class VmTarget implements DebugTarget {
    private final GuestDebugger debugger;
    private int vcpu;

    VmTarget(GuestDebugger debugger) {
        this.debugger = debugger;
    }

    @Override
    public Event attach() throws Exception {
        debugger.attach();
        return event(debugger.awaitStop(10_000));
    }

    private Event event(GuestDebugger.Stop stop) throws InterruptedException {
        if (stop != null) {
            vcpu = stop.vcpu();
            return new Stopped(stop.reason() == GuestDebugger.StopReason.INTERRUPTED ? SIGINT : SIGTRAP);
        }
        VmExit exit = debugger.ended();
        return exit == null ? null : new Exited(exit.status());
    }

    @Override
    public Regs registers() throws Exception {
        return debugger.registers(vcpu);
    }

    @Override
    public Sregs segments() throws Exception {
        return debugger.segments(vcpu);
    }

    @Override
    public void setRegisters(Regs regs) throws Exception {
        debugger.setRegisters(vcpu, regs);
    }

    @Override
    public byte[] readMemory(long address, int len) throws Exception {
        return debugger.readMemory(vcpu, address, len);
    }

    @Override
    public void writeMemory(long address, byte[] data) throws Exception {
        debugger.writeMemory(vcpu, address, data);
    }

    @Override
    public boolean insertBreakpoint(long address) {
        return debugger.insertBreakpoint(address);
    }

    @Override
    public boolean removeBreakpoint(long address) {
        return debugger.removeBreakpoint(address);
    }

    @Override
    public void resume(boolean step) throws Exception {
        debugger.resume(step);
    }

    @Override
    public void interrupt() throws Exception {
        debugger.interrupt();
    }

    @Override
    public Event awaitEvent(long millis) throws Exception {
        return event(debugger.awaitStop(millis));
    }

    @Override
    public void detach() throws Exception {
        if (debugger.ended() == null) {
            debugger.detach();
        }
    }

    @Override
    public void kill() {
        debugger.kill();
    }
}
