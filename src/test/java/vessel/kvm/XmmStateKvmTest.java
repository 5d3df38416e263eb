package vessel.kvm;

import java.util.HexFormat;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import vessel.testkit.RequiresKvm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * Where a vCPU's XMM registers are in the two views KVM gives of them: kvm_fpu.xmm and the XSAVE area
 * (offset 160, 16 bytes a register, as FXSAVE lays them out). The emulation assist writes them through
 * the XSAVE area; this pins that its offsets are the registers KVM_GET_FPU reports.
 *
 * <p>Not the other way round: on the kvm_pvm host (2026-12), KVM_SET_FPU on a fresh vCPU left the XSAVE
 * header's XSTATE_BV at 0, and KVM_GET_XSAVE then reported the register as zero while KVM_GET_FPU had
 * the value: the two views disagreed about what the guest would see.
 */
@vessel.testkit.KvmTest
@Timeout(60)
class XmmStateKvmTest {
    @BeforeEach
    void kvm() {
        RequiresKvm.assumeKvm();
    }

    private static final int XSAVE_XMM0 = 160;
    private static final int XSAVE_XSTATE_BV = 512;

    @Test
    void anXmmRegisterSetInTheXsaveAreaIsTheOneKvmGetFpuReports() throws Exception {
        byte[] value = HexFormat.of().parseHex("00112233445566778899aabbccddeeff");
        try (Kvm kvm = Kvm.open(); VmFd vm = kvm.createVm(); VcpuFd vcpu = vm.createVcpu(0)) {
            byte[] area = vcpu.getXsave();
            System.arraycopy(value, 0, area, XSAVE_XMM0 + 16 * 13, 16);
            area[XSAVE_XSTATE_BV] |= 2; // SSE state in use
            vcpu.setXsave(area);
            Fpu fpu = vcpu.getFpu();
            assertArrayEquals(value, fpu.xmm(13));
            assertArrayEquals(new byte[16], fpu.xmm(12));
            assertArrayEquals(new byte[16], fpu.xmm(14));
        }
    }
}
